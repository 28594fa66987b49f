"""URL map: admin, /api/v1/ (one prefix per app), OpenAPI schema and docs, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ops.views import healthz

api_v1 = [
    path("audit/", include("audit.api.urls")),
    path("access/", include("access.api.urls")),
    path("profiles/", include("profiles.api.urls")),
    path("consent/", include("consent.api.urls")),
    path("dsar/", include("dsar.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("consent.public_urls")),
    path("", include("dsar.public_urls")),
]
