from django.urls import path

from sso import views

app_name = "sso"
urlpatterns = [
    path("oidc/<slug:slug>/start/", views.oidc_start, name="oidc-start"),
    path("oidc/<slug:slug>/callback/", views.oidc_callback, name="oidc-callback"),
    path("saml/<slug:slug>/metadata/", views.saml_metadata, name="saml-metadata"),
    path("saml/<slug:slug>/start/", views.saml_start, name="saml-start"),
    path("saml/<slug:slug>/acs/", views.saml_acs, name="saml-acs"),
]
