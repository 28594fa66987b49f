"""The API's one authorization door: every view of personal data derives from `ScopedAPIView`
(or mixes in `ScopedViewMixin`), which checks the token's scope and the role's permission for
the method once, and hands the view its actor with the caller's region scope (`self.actor`),
which every write service takes. A new endpoint is scoped by construction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from access.authentication import ApiTokenAuthentication
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

    def token_admitted(self, request: Any) -> bool:
        """For a view's lean path, before DRF's dispatch: True when `request` carries a valid
        API token that DRF would authenticate, that asks for JSON (DRF's first renderer) and
        that passes this view's permission classes and `required_permissions` for its method;
        the token's user and the token are then set on the request as DRF sets them. False in
        every other case, errors included: DRF's dispatch then answers and words the error."""
        if not json_client(self, request) or not request.META.get(
            "HTTP_AUTHORIZATION", ""
        ).startswith("Bearer "):
            return False
        try:
            found = ApiTokenAuthentication().authenticate(request)
        except APIException:
            return False
        if found is None:
            return False
        request.user, request.auth = found
        permission = self.required_permissions.get(request.method)
        return all(p.has_permission(request, self) for p in self.get_permissions()) and (
            permission is None or request.user.has_perm(permission)
        )

    def json_response(self, data: Any) -> HttpResponse:
        """`data` answered as DRF answers it to a JSON client (same renderer, same headers)."""
        return json_response(self, data)


_JSON_ACCEPTS = frozenset({"*/*", "application/json"})
_RENDERER = JSONRenderer()


def json_client(view: APIView, request: Any) -> bool:
    """For a view's lean path: True when DRF would answer `request` with `view`'s first
    renderer, JSON (the client accepts anything or JSON)."""
    return (
        view.renderer_classes[0] is JSONRenderer
        and request.META.get("HTTP_ACCEPT", "*/*") in _JSON_ACCEPTS
    )


def json_response(view: APIView, data: Any, status: int = 200) -> HttpResponse:
    """`data` answered as DRF answers it from `view` to a JSON client (`json_client`): same
    renderer, same status, same headers."""
    response = HttpResponse(
        _RENDERER.render(data), content_type=_RENDERER.media_type, status=status
    )
    vary, headers = _default_headers(view)
    if vary is not None:
        patch_vary_headers(response, [vary])
    for key, value in headers:
        response[key] = value
    return response


# A view class -> DRF's default response headers of its views (Vary apart).
_CLASS_HEADERS: dict[type, tuple[str | None, tuple[tuple[str, str], ...]]] = {}


def _default_headers(view: APIView) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """`view.default_response_headers` (Vary, then the others), built once per view class: they
    come from its methods and renderer classes, which are the class's."""
    kept = _CLASS_HEADERS.get(type(view))
    if kept is None:
        headers = dict(view.default_response_headers)
        vary = headers.pop("Vary", None)
        kept = _CLASS_HEADERS[type(view)] = (vary, tuple(headers.items()))
    return kept


class ScopedAPIView(ScopedViewMixin, APIView):
    """An APIView behind the one door (see `ScopedViewMixin`)."""


class SessionOnlyAPIView(ScopedAPIView):
    """Token management and unmasking are for people signed in, not for tokens."""

    # No token scope names these endpoints, so TokenScopePermission refuses every token.
    required_scopes: dict[str, str] = {}
