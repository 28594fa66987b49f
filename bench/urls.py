from django.http import JsonResponse
from django.urls import path

from settings import urls


def minimal(request):
    """The baseline: the smallest Django JSON view, through the same middleware stack."""
    return JsonResponse({"allowed": True, "reason": "baseline"})


# The hub's own patterns at the top level, as in settings.urls (not one include deeper).
urlpatterns = [path("bench/minimal/", minimal), *urls.urlpatterns]
