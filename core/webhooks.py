"""Signed outbound webhooks and signed callbacks, shared by consent (change notifications) and
dsar (connected systems). Signature: HMAC-SHA256 over "<timestamp>.<body>", sent as
`Custodia-Signature: t=<unix>,v1=<hex>`; receivers reject stale timestamps (replay)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from django.utils.encoding import iri_to_uri

SIGNATURE_HEADER = "Custodia-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header value of `body`; an empty secret is refused (anyone can forge
    an HMAC under an empty key)."""
    if not secret:
        raise ValueError("refusing to sign with an empty secret")
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


def _header_parts(header: str) -> dict[str, str]:
    """`t=<unix>,v1=<hex>` as {"t": ..., "v1": ...} (items without "=" ignored)."""
    return dict(item.split("=", 1) for item in header.split(",") if "=" in item)


def verify(
    secret: str, body: bytes, header: str, *, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """True if `header` is a fresh, valid signature of `body` under `secret` (never for an
    empty secret)."""
    if not secret:
        return False
    parts = _header_parts(header)
    try:
        ts = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - ts) > tolerance:
        return False
    expected = sign(secret, body, timestamp=ts).split("v1=", 1)[1]
    # As bytes: the header is Latin-1 text, and compare_digest raises on a non-ASCII str.
    given = parts.get("v1", "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected.encode(), given)


def signature_bound(
    header: str, *, signer: str, target: str, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """True unless `signer`'s (already verified) signature was used for another `target`
    within its freshness window. The signed text is the timestamp and the body, not the URL:
    one system's signed callback for one task, replayed to another task of the same system,
    would otherwise be accepted there. The same target again is a repeat (True)."""
    from django.core.cache import cache

    parts = _header_parts(header)
    signed = hashlib.sha256(f"{signer}:{parts.get('v1', '')}".encode()).hexdigest()
    key = f"webhook:signature:{signed}"
    if cache.add(key, target, timeout=2 * tolerance + 1):
        return True
    return cache.get(key) == target


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None
    error: str
    body: bytes


def deliver(url: str, payload: dict[str, Any], *, secret: str, timeout: float = 10) -> Delivery:
    """POST `payload` as signed JSON. Never raises for network errors, a reply that is no
    HTTP, nor a URL urllib cannot send (a port that is no number): returns a Delivery whose
    error names the cause's type, so the caller counts the attempt. A path or query outside
    ASCII (a valid URL: `/hooks/über`) is sent percent-encoded, as a browser does."""
    if not secret:
        return Delivery(ok=False, status=None, error="no signing secret", body=b"")
    if not url.startswith(("http://", "https://")):
        return Delivery(ok=False, status=None, error="unsupported URL scheme", body=b"")
    body = encode(payload)
    try:
        request = urllib.request.Request(  # noqa: S310 - URLs are registered by staff, http(s) only
            _ascii_url(url),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body),
                "User-Agent": "Custodia-Webhook/1",
            },
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Delivery(
                ok=200 <= response.status < 300,
                status=response.status,
                error="",
                body=response.read(65536),
            )
    except urllib.error.HTTPError as exc:
        return Delivery(ok=False, status=exc.code, error=f"HTTP {exc.code}", body=b"")
    except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
        # HTTPException: a reply that is no HTTP (BadStatusLine), or a URL http.client refuses
        # (InvalidURL: a port that is no number).
        return Delivery(ok=False, status=None, error=type(exc).__name__, body=b"")
    except ValueError as exc:  # UnicodeError of a host name no resolver takes
        return Delivery(ok=False, status=None, error=type(exc).__name__, body=b"")


def _ascii_url(url: str) -> str:
    """`url` with its path and query percent-encoded where they leave ASCII (http.client sends
    them as ASCII); the host as it is (http.client and the resolver encode a name with IDNA)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(
        parts._replace(path=iri_to_uri(parts.path), query=iri_to_uri(parts.query))
    )
