from django.urls import path

from access.api import audit_views as views

app_name = "audit"
urlpatterns = [
    path("events/", views.AuditEventListView.as_view(), name="events"),
    path("events.csv", views.AuditEventCsvView.as_view(), name="events-csv"),
]
