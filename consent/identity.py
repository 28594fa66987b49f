"""Identity assertions: how a site's backend tells the banner who the visitor is.

The backend signs `base64url(payload) "." base64url(HMAC-SHA256(identity_secret, first part))`
with the payload `{"kind": "customer_id" | "email", "sub": value, "exp": unix time,
"nonce": random}`, short-lived (at most MAX_LIFETIME), and renders it into the page; the banner
passes it to the hub once. The hub refuses forged, expired, too long-lived, malformed and
replayed assertions (see `visitor_identify` in consent.services)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from core.errors import DomainError

MAX_LIFETIME = 600  # seconds: an assertion is made for one page view
KINDS = ("customer_id", "email")


class IdentityAssertionError(DomainError):
    code = "identity_assertion_invalid"


@dataclass(frozen=True)
class Identity:
    kind: str
    value: str
    expires_at: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def identity_assertion_sign(
    *, secret: str, kind: str, value: str, ttl: int = 300, nonce: str | None = None
) -> str:
    """What the site's backend does (also in docs/consent.md, for other languages)."""
    payload = {
        "kind": kind,
        "sub": value,
        "exp": int(time.time()) + ttl,
        "nonce": nonce or secrets.token_urlsafe(16),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


def identity_assertion_verify(*, secret: str, assertion: str, now: float | None = None) -> Identity:
    """The identity an assertion states, once its signature, form and expiry are checked."""
    body, _, signature = assertion.partition(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise _malformed("The signature is not base64url.") from exc
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    if not body or not hmac.compare_digest(given, expected):
        raise IdentityAssertionError(
            "The identity assertion is not signed with this property's secret.",
            code="identity_assertion_forged",
            status=401,
        )
    try:
        payload = json.loads(_unb64(body))
    except (binascii.Error, ValueError) as exc:
        raise _malformed("The payload is not base64url JSON.") from exc
    if not isinstance(payload, dict):
        raise _malformed("The payload must be a JSON object.")
    kind, value = payload.get("kind"), payload.get("sub")
    expires, nonce = payload.get("exp"), payload.get("nonce")
    if kind not in KINDS or not isinstance(value, str) or not value.strip():
        raise _malformed(f"Give 'kind' among {', '.join(KINDS)} and a non-empty 'sub'.")
    if not isinstance(expires, int) or not isinstance(nonce, str) or not 8 <= len(nonce) <= 64:
        raise _malformed("Give 'exp' (unix time) and a 'nonce' of 8 to 64 characters.")
    now = time.time() if now is None else now
    if expires <= now:
        raise IdentityAssertionError(
            "The identity assertion has expired.", code="identity_assertion_expired", status=401
        )
    if expires > now + MAX_LIFETIME:
        raise _malformed(f"An identity assertion may live at most {MAX_LIFETIME} seconds.")
    return Identity(kind=kind, value=value, expires_at=expires, nonce=nonce)


def _malformed(message: str) -> IdentityAssertionError:
    return IdentityAssertionError(
        message, code="identity_assertion_malformed", fields={"assertion": [message]}
    )
