"""Bearer tokens: `cst_<prefix>_<secret>`; the prefix finds the row, the SHA-256 proves it."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "cst_"  # noqa: S105 - a public marker, not a secret


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """Return (raw token shown once, lookup prefix, hash stored)."""
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return raw, prefix, hash_token(raw)


def parse_prefix(raw: str) -> str | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None
    prefix, _, secret = raw[len(TOKEN_PREFIX) :].partition("_")
    if len(prefix) != 12 or not secret:
        return None
    return prefix


def matches(raw: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(raw), stored_hash)
