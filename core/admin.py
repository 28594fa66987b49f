"""Admin mixins every app shares (no models here: core owns no data)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Records that are proof or machine-written: shown, never added, edited or deleted in the
    admin. Put it before the ModelAdmin base: `class X(ReadOnlyAdminMixin, admin.ModelAdmin)`."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def secret_shown_once(request: HttpRequest, what: str, secret: str) -> None:
    """Show a generated secret to the officer once (a message on the next page); it is never
    displayed again. `what` names it, e.g. "Shared secret of Shop"."""
    messages.warning(request, f"{what}, copy it now, it will not be shown again: {secret}")
