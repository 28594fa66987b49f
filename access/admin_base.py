"""The admin's one authorization door: model admins of personal data derive from
`ScopedAdmin`, so changelists, searches, change views and actions see `restrict(user)` rows
only, and actions write through services with the officer's scoped actor."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from access.scoping import actor_for
from audit.actors import Actor


class ScopedAdmin(admin.ModelAdmin):
    """Changelists, searches, change views and actions all see `restrict(user)` rows only."""

    def get_queryset(self, request: HttpRequest):
        return self.model.objects.restrict(request.user, "view")

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # no access to this kind of page at all: 403, as the changelist
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("not found")  # never tell "exists but not yours" apart from "missing"
        return obj

    def actor(self, request: HttpRequest) -> Actor:
        """The officer, with the regions they may write: what every admin write passes on."""
        return actor_for(request)
