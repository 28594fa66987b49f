from django.urls import path

from consent import views

urlpatterns = [
    path("consent/banner.js", views.banner_js, name="consent-banner-js"),
    path("privacy-center/", views.privacy_center, name="privacy-center"),
    path(".well-known/gpc.json", views.gpc_json, name="gpc-json"),
]
