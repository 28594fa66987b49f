from django.urls import path

from dsar import views

urlpatterns = [
    path("privacy-center/download/<str:token>/", views.download, name="dsar-download"),
]
