"""OpenAPI: every operation lists the error statuses it can answer, with the one error format.

The statuses come from the rules every view shares (ops.errors, ops.middleware, core.parsers,
throttles), so a new endpoint documents them by construction instead of by decoration.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="stable machine-readable code, e.g. invalid_text")
    message = serializers.CharField(help_text="a sentence for people, never personal data")
    fields = serializers.DictField(help_text="per-field messages (may be empty)")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_DESCRIPTIONS = {
    400: "Invalid input: validation errors, malformed or too deeply nested JSON, invalid "
    "text (NUL, lone surrogate), out-of-range query parameters.",
    401: "Missing or invalid credentials (API token, session, property key or signature).",
    403: "Authenticated, but the role, token scope, region or origin does not allow this.",
    404: "Not found, or outside the caller's scope.",
    409: "Conflict with the current state (e.g. an idempotency key reused with another body).",
    413: "The request body is over this endpoint's limit.",
    415: "Unsupported Content-Type.",
    429: "Rate limited; Retry-After says when to try again.",
}


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the error responses of each operation."""

    def _error_statuses(self) -> list[int]:
        statuses = [400, 401, 403, 404]
        if self.method in _BODY_METHODS:
            statuses += [409, 413, 415]
        if self.view.get_throttles():
            statuses.append(429)
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    OpenApiResponse(response=ErrorSerializer, description=_DESCRIPTIONS[status]),
                    str(status),
                    media_types=["application/json"],
                    direction=direction,
                )
        return dict(sorted(responses.items()))
