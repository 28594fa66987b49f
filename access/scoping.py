"""Region scoping: the one door through which personal data is queried.

Like NetBox's RestrictedQuerySet, `Model.objects.restrict(principal, action)` turns the
caller's model permission and region scope into one filter. Models declare which field holds
the region with `scope_region_field` (e.g. "region" or "subject__region").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user, optionally through an API token that narrows what they may do."""

    user: Any
    token: Any = None

    @classmethod
    def of(cls, who: Any) -> Principal:
        if isinstance(who, Principal):
            return who
        if hasattr(who, "user") and hasattr(who, "auth"):  # a DRF/Django request
            token = who.auth if hasattr(who.auth, "token_prefix") else None
            return cls(user=who.user, token=token)
        return cls(user=who)


def allowed_regions(who: Any) -> frozenset[str] | None:
    """Regions `who` may see; None means every region, an empty set means none."""
    principal = Principal.of(who)
    user = principal.user
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        user_regions = None
    else:
        scope = getattr(user, "region_scope", None) if _has_scope(user) else None
        if scope is None:
            user_regions = frozenset()
        elif scope.all_regions:
            user_regions = None
        else:
            user_regions = frozenset(scope.regions)
    token = principal.token
    if token is None or token.all_regions:
        return user_regions
    token_regions = frozenset(token.regions)
    return token_regions if user_regions is None else user_regions & token_regions


def _has_scope(user: Any) -> bool:
    from access.models import RegionScope

    try:
        user.region_scope  # noqa: B018 - loads the related row or raises
    except RegionScope.DoesNotExist:
        return False
    return True


def region_allowed(who: Any, region: str) -> bool:
    regions = allowed_regions(who)
    return regions is None or region in regions


class ScopedQuerySet(models.QuerySet):
    def restrict(self, who: Any, action: str = "view") -> ScopedQuerySet:
        """Rows `who` may `action` (view/change/delete/add), limited to their regions."""
        principal = Principal.of(who)
        user = principal.user
        meta = self.model._meta
        permission = f"{meta.app_label}.{action}_{meta.model_name}"
        if user is None or not user.is_authenticated or not user.has_perm(permission):
            return self.none()
        regions = allowed_regions(principal)
        if regions is None:
            return self
        field = getattr(self.model, "scope_region_field", "region")
        return self.filter(**{f"{field}__in": sorted(regions)})


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)
