from django.urls import path

from access.api import views

app_name = "access"
urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("tokens/", views.TokenListCreateView.as_view(), name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
]
