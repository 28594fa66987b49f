"""The API's one authorization door: every view of personal data derives from `ScopedAPIView`
(or mixes in `ScopedViewMixin`), which checks the token's scope and the role's permission for
the method once, and hands the view its actor with the caller's region scope (`self.actor`),
which every write service takes. A new endpoint is scoped by construction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from access.permissions import TokenScopePermission
from access.scoping import actor_for, allowed_regions
from audit.actors import Actor
from core.errors import ForbiddenError

if TYPE_CHECKING:
    # The hooks this mixin uses (initial, request, permission_classes) are APIView's: type it
    # as one. At run time it stays a plain mixin, put before a DRF view class.
    _ViewBase = APIView
else:
    _ViewBase = object


class ScopedViewMixin(_ViewBase):
    """Token scope (`required_scopes`) and model permission (`required_permissions`, per HTTP
    method, e.g. {"POST": "profiles.add_subject"}) checked before the handler runs; the
    caller's actor and regions at hand as `self.actor` and `self.regions`."""

    permission_classes: Sequence[type[BasePermission]] = [IsAuthenticated, TokenScopePermission]
    required_scopes: dict[str, str] = {}
    required_permissions: dict[str, str] = {}
    permission_message = "Your role does not allow this."

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, token scopes, throttles
        permission = self.required_permissions.get(request.method)
        if permission is not None and not request.user.has_perm(permission):
            raise ForbiddenError(self.permission_message)

    @property
    def actor(self) -> Actor:
        """The caller, with the regions they may write (their scope, fail closed)."""
        if not hasattr(self, "_actor"):
            self._actor = actor_for(self.request)
        return self._actor

    @property
    def regions(self) -> frozenset[str] | None:
        return allowed_regions(self.request)


class ScopedAPIView(ScopedViewMixin, APIView):
    """An APIView behind the one door (see `ScopedViewMixin`)."""


class SessionOnlyAPIView(ScopedAPIView):
    """Token management and unmasking are for people signed in, not for tokens."""

    # No token scope names these endpoints, so TokenScopePermission refuses every token.
    required_scopes: dict[str, str] = {}
