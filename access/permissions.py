"""DRF permissions: token scopes on top of model permissions and region scopes."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class TokenScopePermission(BasePermission):
    """A request authenticated by an API token needs the scope the view names for its method.

    Views declare `required_scopes = {"GET": "profiles:read", "POST": "profiles:write"}`.
    Session users are not limited by scopes (their model permissions and regions apply).
    A method missing from `required_scopes` is refused to tokens.
    """

    message = "This API token lacks the scope this endpoint needs."

    def has_permission(self, request: Any, view: Any) -> bool:
        token = getattr(request, "auth", None)
        if token is None or not hasattr(token, "scopes"):
            return True
        required = getattr(view, "required_scopes", {}).get(request.method)
        if required is None and request.method in ("HEAD", "OPTIONS"):
            required = getattr(view, "required_scopes", {}).get("GET")
        return required is not None and required in token.scopes
