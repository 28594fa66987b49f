app_name = "dsar"
urlpatterns: list = []
