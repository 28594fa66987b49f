from django.http import JsonResponse
from django.urls import include, path


def minimal(request):
    """The baseline: the smallest Django JSON view, through the same middleware stack."""
    return JsonResponse({"allowed": True, "reason": "baseline"})


urlpatterns = [path("bench/minimal/", minimal), path("", include("settings.urls"))]
