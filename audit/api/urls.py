from django.urls import path

from audit.api import views

app_name = "audit"
urlpatterns = [
    path("events/", views.AuditEventListView.as_view(), name="events"),
    path("events.csv", views.AuditEventCsvView.as_view(), name="events-csv"),
]
