from django.urls import path

from profiles.api import views

app_name = "profiles"
urlpatterns = [
    path("subjects/", views.SubjectListView.as_view(), name="subject-list"),
    path("subjects/upsert/", views.SubjectUpsertView.as_view(), name="subject-upsert"),
    path("subjects/batch/", views.SubjectBatchView.as_view(), name="subject-batch"),
    path("subjects/search/", views.SubjectSearchView.as_view(), name="subject-search"),
    path("subjects/<uuid:subject_id>/", views.SubjectDetailView.as_view(), name="subject-detail"),
    path(
        "subjects/<uuid:subject_id>/events/",
        views.SubjectEventsView.as_view(),
        name="subject-events",
    ),
    path("imports/", views.ImportCreateView.as_view(), name="import-create"),
    path("imports/<uuid:job_id>/", views.ImportDetailView.as_view(), name="import-detail"),
    path("imports/<uuid:job_id>/errors/", views.ImportErrorsView.as_view(), name="import-errors"),
]

# Unmasking is served under access's prefix, at its historical URL /api/v1/access/unmask/
# (named access:unmask): settings/urls.py adds these to access's patterns.
access_urlpatterns = [
    path("unmask/", views.UnmaskView.as_view(), name="unmask"),
]
