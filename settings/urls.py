"""URL map: admin, /api/v1/ (one prefix per app), OpenAPI schema and docs, health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from access.api import urls as access_urls
from ops.views import ApiDocsView, healthz
from profiles.api import urls as profiles_urls

# access:unmask loads the subject through profiles, so its view lives in profiles/api; it keeps
# its URL and name under access's prefix.
access_api = (access_urls.urlpatterns + profiles_urls.access_urlpatterns, access_urls.app_name)

api_v1 = [
    path("consent/", include("consent.api.urls")),  # first: its decisions and banner writes
    path("sources/", include("activation.api.urls")),  # next: every inbound webhook call
    path("audit/", include("access.api.audit_urls")),
    path("access/", include(access_api)),
    path("profiles/", include("profiles.api.urls")),
    path("dsar/", include("dsar.api.urls")),
    path("destinations/", include("activation.api.destination_urls")),
]

# The API first: URL resolution tries patterns in order, and the consent API carries the volume.
urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("sso/", include("sso.urls")),
    path("scim/v2/", include("sso.scim_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("consent.public_urls")),
    path("", include("dsar.public_urls")),
]
