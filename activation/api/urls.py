from django.urls import path

from activation.api import views

app_name = "activation"

urlpatterns = [
    path("<uuid:source_id>/events/", views.SourceEventsView.as_view(), name="source-events"),
]
