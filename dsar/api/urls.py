from django.urls import path

from dsar.api import views

app_name = "dsar"
urlpatterns = [
    path("intake/", views.IntakeView.as_view(), name="intake"),
    path("intake/confirm/", views.ConfirmView.as_view(), name="intake-confirm"),
    path("requests/", views.RequestListView.as_view(), name="requests"),
    path("requests/<uuid:request_id>/", views.RequestDetailView.as_view(), name="request"),
    path("requests/<uuid:request_id>/approve/", views.ApproveView.as_view(), name="approve"),
    path("requests/<uuid:request_id>/deny/", views.DenyView.as_view(), name="deny"),
    path("requests/<uuid:request_id>/extend/", views.ExtendView.as_view(), name="extend"),
    path(
        "requests/<uuid:request_id>/archive-link/",
        views.ArchiveLinkView.as_view(),
        name="archive-link",
    ),
    path("callbacks/<uuid:task_id>/", views.CallbackView.as_view(), name="callback"),
]
