from django.urls import path

from sso import views

app_name = "sso"
urlpatterns = [
    path("oidc/<slug:slug>/start/", views.oidc_start, name="oidc-start"),
    path("oidc/<slug:slug>/callback/", views.oidc_callback, name="oidc-callback"),
]
