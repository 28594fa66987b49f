from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularSwaggerView

from ops.selectors import hub_health


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: 200 when database, broker and workers are up, else 503."""
    health = hub_health()
    return JsonResponse(health, status=200 if health["status"] == "ok" else 503)


class ApiDocsView(SpectacularSwaggerView):
    """The API's documentation page. GET and HEAD only: its one renderer is the page's
    template, and DRF's OPTIONS answer rendered through it was a 500 (TemplateDoesNotExist)."""

    http_method_names = ["get", "head"]
