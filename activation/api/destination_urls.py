from django.urls import path

from activation.api import views

app_name = "destinations"

urlpatterns = [
    path("<int:destination_id>/audience/", views.AudienceView.as_view(), name="audience"),
]
