"""Request ids for tracing and audit; JSON errors for everything under /api/."""

from __future__ import annotations

import contextvars
import logging
import re
import traceback
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ops.errors import json_error_response

logger = logging.getLogger(__name__)
_REQUEST_ID = contextvars.ContextVar("custodia_request_id", default="")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_API_PREFIXES = ("/api/", "/healthz", "/.well-known/")
_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def current_request_id() -> str:
    """The id of the request being served in this context ('' outside a request)."""
    return _REQUEST_ID.get()


class RequestIdMiddleware:
    """Takes X-Request-ID if it is well formed, otherwise makes one; echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _REQUEST_ID.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _REQUEST_ID.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ApiErrorMiddleware:
    """Under /api/, an HTML error page from Django becomes the JSON error format."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(_API_PREFIXES) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        code = _STATUS_CODES.get(status, "bad_request" if status < 500 else "internal_error")
        message = "Internal error." if status >= 500 else code.replace("_", " ").capitalize() + "."
        return json_error_response(code, message, status)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(_API_PREFIXES):
            return None
        # Log the type, the frames and the request id only: exception text may quote input.
        logger.error(
            "unhandled %s in %s request_id=%s\n%s",
            type(exception).__name__,
            request.path,
            getattr(request, "request_id", ""),
            "".join(traceback.format_tb(exception.__traceback__)),
        )
        return json_error_response("internal_error", "Internal error.", 500)
