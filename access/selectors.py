"""Reads about access: active unmask grants, API tokens' reach."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from access import roles
from access.scoping import Principal, allowed_regions


def unmask_grant_active(*, user: Any, subject_id: Any) -> bool:
    """True if `user` holds an unexpired unmask grant for the subject."""
    from access.models import UnmaskGrant

    return UnmaskGrant.objects.filter(
        user=user, subject_id=subject_id, expires_at__gt=timezone.now()
    ).exists()


def api_token_usable(token: Any) -> bool:
    """True if `token` may act now: not revoked, not expired, its user active (what the API's
    authentication checks, for work done with a token outside a request, e.g. a push)."""
    return (
        token.revoked_at is None
        and (token.expires_at is None or token.expires_at > timezone.now())
        and token.user.is_active
    )


def api_token_reach(token: Any) -> frozenset[str] | None:
    """The regions `token` may read and write: its own narrowed by its user's (None: every)."""
    return allowed_regions(Principal(user=token.user, token=token))


def api_token_within(token: Any, regions: frozenset[str] | None) -> bool:
    """True if every region `token` reaches is within `regions` (None: every region)."""
    if regions is None:
        return True
    reach = api_token_reach(token)
    return reach is not None and reach <= regions


def api_tokens_visible(*, user: Any, regions: frozenset[str] | None):
    """The tokens an officer seeing `regions` (None: every region) may list: those reaching no
    region outside theirs (a token's reach is its regions narrowed by its service account's),
    and their own. Names, scopes and service accounts of other regions' tokens stay hidden, as
    the officer could neither issue nor revoke them."""
    from access.models import ApiToken

    rows = ApiToken.objects.all()
    if regions is None:
        return rows
    within = [
        token.pk
        for token in rows.select_related("user", "user__region_scope")
        if token.user_id == getattr(user, "pk", None) or api_token_within(token, regions)
    ]
    return rows.filter(pk__in=within)


def service_account_within(user: Any, regions: frozenset[str] | None) -> bool:
    """True if an officer seeing `regions` (None: every region) may name the service account
    `user`: one of every region (a token issued to it reaches only the token's regions) or
    one whose regions are all within theirs."""
    if regions is None:
        return True
    reach = allowed_regions(user)
    return reach is None or reach <= regions


def service_accounts_visible(*, regions: frozenset[str] | None):
    """The service accounts an officer seeing `regions` (None: every region) may issue tokens
    to and see named: every region's, or theirs only (`service_account_within`). Usernames of
    other regions' services stay hidden, as their tokens do (`api_tokens_visible`)."""
    from django.contrib.auth import get_user_model

    rows = get_user_model().objects.filter(
        is_active=True, is_staff=False, is_superuser=False, groups__name=roles.SERVICE_ACCOUNT
    )
    if regions is None:
        return rows
    within = [
        user.pk
        for user in rows.select_related("region_scope")
        if service_account_within(user, regions)
    ]
    return rows.filter(pk__in=within)
