"""SSO reads."""

from __future__ import annotations

from django.db.models import QuerySet

from sso.models import IdentityProvider, SsoDomain


def sso_only_domain(email: str | None) -> bool:
    """True if this address's domain signs in through SSO only."""
    domain = (email or "").rpartition("@")[2].strip().lower()
    return bool(domain) and SsoDomain.objects.filter(domain=domain).exists()


def sign_in_providers() -> QuerySet[IdentityProvider]:
    """The enabled providers offered on the login page."""
    return IdentityProvider.objects.filter(enabled=True).order_by("name")
