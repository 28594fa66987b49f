"""DRF authentication by `Authorization: Bearer cst_...` API tokens."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from access import tokens
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
        token = ApiToken.objects.select_related("user").filter(token_prefix=prefix).first()
        now = timezone.now()
        if (
            token is None
            or not tokens.matches(raw, token.token_hash)
            or token.revoked_at is not None
            or (token.expires_at is not None and token.expires_at <= now)
            or not token.user.is_active
        ):
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
