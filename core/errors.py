"""The domain's error classes: services raise them, ops maps them to the one JSON error format
({"error": {"code", "message", "fields"}}, see ops/errors.py). Messages never contain personal
data."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain was broken; carries a stable code and an HTTP status."""

    code = "invalid"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields = fields or {}


class NotFoundError(DomainError):
    """The object does not exist, or is outside the caller's scope (never tell which)."""

    code = "not_found"
    status = 404


class ConflictError(DomainError):
    code = "conflict"
    status = 409


class ForbiddenError(DomainError):
    code = "permission_denied"
    status = 403


class PayloadTooLargeError(DomainError):
    """The request body is over the limit of its endpoint (docs/api.md, Limits)."""

    code = "payload_too_large"
    status = 413


class InvalidTextError(DomainError):
    """Text that no field may hold: a NUL character or a lone UTF-16 surrogate."""

    code = "invalid_text"
    status = 400
