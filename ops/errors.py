"""One error format for the whole API: {"error": {"code", "message", "fields"}}.

Domain exceptions raised by services subclass core.errors.DomainError; this module maps them,
DRF's own exceptions and Django's to JSON with a stable code. Messages never contain personal data.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions as drf
from rest_framework.response import Response

from core.errors import DomainError, PayloadTooLargeError, echo

logger = logging.getLogger(__name__)

# The database, the cache (Redis) or the broker unreachable: not a bug of the request, and
# worth sending again shortly (503 `service_unavailable` with Retry-After, not a 500).
SERVICE_UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    BrokerError,
)
UNAVAILABLE_RETRY_AFTER = 5  # seconds


# Messages quote the client's input in places (DRF's '"…" is not a valid choice.', a field
# named by a dict key the client sent): every string of an error is bounded here, once.
MESSAGE_LIMIT = 300
FIELD_NAME_LIMIT = 100


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": echo(message, MESSAGE_LIMIT),
            "fields": _bounded(fields or {}),
        }
    }


def _bounded(value: Any) -> Any:
    """Field errors with every message and field name cut to its limit."""
    if isinstance(value, dict):
        return {echo(k, FIELD_NAME_LIMIT): _bounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bounded(item) for item in value]
    if isinstance(value, str):
        return echo(value, MESSAGE_LIMIT)
    return value


def _flatten(detail: Any) -> dict[str, Any]:
    """DRF's nested ValidationError detail as {field: [messages]} with plain strings."""
    if isinstance(detail, dict):
        return {str(key): _as_messages(value) for key, value in detail.items()}
    return {"non_field_errors": _as_messages(detail)}


def _as_messages(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _as_messages(v) for k, v in value.items()}
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
        return [_as_messages(item) for item in value]
    return [str(value)]


_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ParseError: "malformed_request",
    drf.AuthenticationFailed: "authentication_failed",
    drf.NotAuthenticated: "not_authenticated",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "rate_limited",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: every handled error leaves as the one JSON error format."""
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(error_body("invalid", "Invalid input.", fields), status=400)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("permission_denied", "Permission denied."), status=403)
    if isinstance(exc, SuspiciousOperation):
        code, message, status = django_request_error(exc)
        return Response(error_body(code, message), status=status)
    if isinstance(exc, drf.ValidationError):
        return Response(error_body("invalid", "Invalid input.", _flatten(exc.detail)), status=400)
    if isinstance(exc, drf.APIException):
        code = _DRF_CODES.get(type(exc), str(exc.default_code))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)
    return None


def django_request_error(exc: SuspiciousOperation) -> tuple[str, str, int]:
    """Django's refusals of a request (body over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields,
    a forged host) as (code, message, status): the client's fault, never a 500."""
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLargeError.code, "The request body is too large.", 413
    return "bad_request", "The request was refused.", 400


def json_error_response(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)
