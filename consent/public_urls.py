from django.urls import path

from consent import views

urlpatterns = [
    path("consent/banner.js", views.banner_js, name="consent-banner-js"),
    path("privacy-center/", views.privacy_center, name="privacy-center"),
    path(".well-known/gpc.json", views.gpc_json, name="gpc-json"),
    path("demo/identified-visitor/", views.demo_identified, name="demo-identified"),
    path(
        "demo/identified-visitor/record/",
        views.demo_identified_record,
        name="demo-identified-record",
    ),
]
