"""The domain's error classes: services raise them, ops maps them to the one JSON error format
({"error": {"code", "message", "fields"}}, see ops/errors.py). Messages never contain personal
data."""

from __future__ import annotations

# The most of a client's own input an error message repeats (a region code, a slug): enough to
# recognise it, never a megabyte written back into responses, logs and proxies.
ECHO_LIMIT = 40


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """`value` as an error message may repeat it: printable characters only, cut to `limit`
    characters with an ellipsis."""
    text = "".join(c if c.isprintable() else "?" for c in str(value)[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
