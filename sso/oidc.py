"""OpenID Connect relying party (authorization code + PKCE S256, state, nonce).

The protocol with no database: discovery, the authorization URL, the code exchange and the ID
token's verification (signature against the provider's JWKS with joserfc, iss, aud, exp, iat,
nonce). Errors are `OidcError` with a fixed reason code (never token contents)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

HTTP_TIMEOUT = 10
_cache: dict[str, tuple[float, Any]] = {}
CACHE_SECONDS = 300
LEEWAY = 60


class OidcError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _get_json(url: str) -> Any:
    if not url.startswith(("https://", "http://")):
        raise OidcError("bad_url")
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
        return json.loads(response.read())


def _cached(url: str, refresh: bool = False) -> Any:
    hit = _cache.get(url)
    if hit and not refresh and hit[0] > time.monotonic():
        return hit[1]
    try:
        value = _get_json(url)
    except OidcError:
        raise
    except Exception as exc:
        raise OidcError("provider_unreachable") from exc
    _cache[url] = (time.monotonic() + CACHE_SECONDS, value)
    return value


def discovery(issuer: str) -> dict:
    return _cached(issuer.rstrip("/") + "/.well-known/openid-configuration")


@dataclass(frozen=True)
class Start:
    url: str
    state: str
    nonce: str
    verifier: str


def authorization_start(*, issuer: str, client_id: str, redirect_uri: str) -> Start:
    meta = discovery(issuer)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
    )
    return Start(meta["authorization_endpoint"] + "?" + query, state, nonce, verifier)


def code_exchange(
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    verifier: str,
) -> str:
    """Trade the code for tokens at the token endpoint; return the ID token (compact JWS)."""
    meta = discovery(issuer)
    body = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": client_secret,
            "code_verifier": verifier,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the provider's configured endpoint
        meta["token_endpoint"],
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310
            payload = json.loads(response.read())
    except Exception as exc:
        raise OidcError("token_exchange_failed") from exc
    id_token = payload.get("id_token") if isinstance(payload, dict) else None
    if not isinstance(id_token, str):
        raise OidcError("no_id_token")
    return id_token


def _keyset(issuer: str, refresh: bool = False) -> KeySet:
    return KeySet.import_key_set(_cached(discovery(issuer)["jwks_uri"], refresh=refresh))


def id_token_verify(*, issuer: str, client_id: str, id_token: str, nonce: str) -> dict:
    """The verified claims of an ID token; OidcError(reason) otherwise."""
    try:
        try:
            token = jwt.decode(id_token, _keyset(issuer), algorithms=["RS256", "ES256", "PS256"])
        except JoseError:
            # keys may have rotated: one refresh of the JWKS, then give up
            token = jwt.decode(
                id_token, _keyset(issuer, refresh=True), algorithms=["RS256", "ES256", "PS256"]
            )
    except (JoseError, ValueError) as exc:
        raise OidcError("bad_signature") from exc
    claims = token.claims
    now = time.time()
    if claims.get("iss") != issuer:
        raise OidcError("wrong_issuer")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise OidcError("wrong_audience")
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now - LEEWAY:
        raise OidcError("expired")
    if isinstance(claims.get("iat"), int | float) and claims["iat"] > now + LEEWAY:
        raise OidcError("issued_in_future")
    given_nonce = claims.get("nonce")
    # As bytes: compare_digest raises TypeError on a non-ASCII str (the IdP signs what it likes).
    if (
        not nonce
        or not isinstance(given_nonce, str)
        or not secrets.compare_digest(given_nonce.encode(), nonce.encode())
    ):
        raise OidcError("wrong_nonce")
    if not claims.get("sub"):
        raise OidcError("no_subject")
    # Stored as the identity's subject (255) and the user's e-mail (254): text of that size.
    if not isinstance(claims["sub"], str) or len(claims["sub"]) > 255:
        raise OidcError("bad_subject")
    email = claims.get("email", "")
    if not isinstance(email, str) or len(email) > 254:
        raise OidcError("bad_email")
    return dict(claims)
