"""DRF authentication by `Authorization: Bearer cst_...` API tokens. The token with its user,
permissions and region scope is cached (access/principals.py) and re-checked on every request
(hash, revocation, expiry, active user); any change to them is seen on the next request."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from access import principals, tokens
from access.models import ApiToken


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw = header.partition(" ")
        if keyword != self.keyword:
            return None
        raw = raw.strip()
        prefix = tokens.parse_prefix(raw)
        if prefix is None:
            raise exceptions.AuthenticationFailed("Malformed API token.")
        generation, token = principals.cached_token(raw)
        if token is None:
            token = _load(prefix)
            if token is not None and tokens.matches(raw, token.token_hash):
                principals.cache_token(generation, raw, token)
        now = timezone.now()
        if (
            token is None
            or not tokens.matches(raw, token.token_hash)
            or token.revoked_at is not None
            or (token.expires_at is not None and token.expires_at <= now)
            or not token.user.is_active
        ):
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        # At most one write a minute per token, whatever the number of web processes; the
        # cached entry carries the time written, so a request in between reads nothing more.
        if (
            token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60
        ) and principals.token_use_note(prefix):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
            principals.cache_token(generation, raw, token)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


def _load(prefix: str) -> ApiToken | None:
    """The token with what authorizing its requests needs: its user, the user's region scope
    and permissions (ModelBackend keeps them on the user, so they travel in the cache)."""
    token = (
        ApiToken.objects.select_related("user", "user__region_scope")
        .filter(token_prefix=prefix)
        .first()
    )
    if token is not None:
        token.user.get_all_permissions()
    return token
