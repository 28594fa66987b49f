"""Region scoping: the one door through which personal data is queried.

Like NetBox's RestrictedQuerySet, `Model.objects.restrict(principal, action)` turns the
caller's model permission and region scope into one filter. Models declare which field holds
the region with `scope_region_field` (e.g. "region" or "subject__region"; a tuple when a row
concerns several subjects, e.g. a match review: every one of them must be in scope). A row that
holds a subject's id without a foreign key (access sits below profiles) declares
`scope_region_of = ("profiles.Subject", "subject_id")`: that subject's region decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.actors import Actor


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
        user_regions: frozenset[str] | None = None
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
    try:
        user.region_scope  # noqa: B018 - loads the related row or raises
    except ObjectDoesNotExist:  # RegionScope.DoesNotExist (access.models imports this module)
        return False
    return True


def region_allowed(who: Any, region: str) -> bool:
    regions = allowed_regions(who)
    return regions is None or region in regions


def _shared_with(model: type[models.Model], user: Any) -> Q | None:
    """Rows shared with `user` one by one (a per-object grant with an expiry), if the model
    declares `scope_shares = ("app.ShareModel", "<field holding the shared object's id>")`."""
    spec = getattr(model, "scope_shares", None)
    if spec is None or user is None or not user.is_authenticated:
        return None
    share_model = apps.get_model(spec[0])
    shares = share_model.objects.filter(
        content_object=OuterRef(spec[1]), user=user, expires_at__gt=timezone.now()
    )
    return Q(Exists(shares))


class ScopedQuerySet(models.QuerySet):
    def restrict(self, who: Any, action: str = "view") -> ScopedQuerySet:
        """Rows `who` may `action` (view/change/delete/add): their model permission limited to
        their regions (and their token's), plus rows shared with them one by one (for the
        actions the model lists in `scope_share_actions`, by default view only)."""
        principal = Principal.of(who)
        user = principal.user
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        meta = self.model._meta
        permission = f"{meta.app_label}.{action}_{meta.model_name}"
        share_actions = getattr(self.model, "scope_share_actions", ("view",))
        shared = (
            _shared_with(self.model, user)
            if action in share_actions and principal.token is None
            else None
        )
        if not user.has_perm(permission):
            return self.filter(shared) if shared is not None else self.none()
        regions = allowed_regions(principal)
        if regions is None:
            return self
        return self._in_regions(regions, shared)

    def _in_regions(self, regions: frozenset[str], shared: Q | None) -> ScopedQuerySet:
        of = getattr(self.model, "scope_region_of", None)
        if of is not None:  # the region of the row another model holds under this id
            holder = apps.get_model(of[0])
            in_region = Q(
                Exists(holder.objects.filter(pk=OuterRef(of[1]), region__in=sorted(regions)))
            )
            return self.filter(in_region | shared if shared is not None else in_region)
        fields = getattr(self.model, "scope_region_field", "region")
        in_region = Q()
        for field in (fields,) if isinstance(fields, str) else fields:
            in_region &= Q(**{f"{field}__in": sorted(regions)})
        return self.filter(in_region | shared if shared is not None else in_region)


def subject_visible(who: Any, subject: Any) -> bool:
    """True if `who` may view this subject (regions or a share)."""
    return type(subject).objects.restrict(who, "view").filter(pk=subject.pk).exists()


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)


def actor_for(request: Any) -> Actor:
    """The actor of an HTTP request with its region scope (its user's regions narrowed by its
    API token's): the actor every write service takes on behalf of a staff user or token."""
    who = request if hasattr(request, "auth") else getattr(request, "user", None)
    return Actor.from_request(request, regions=allowed_regions(who))


def regions_filter(regions: frozenset[str] | None, field: str = "region") -> Q:
    """A Q keeping rows whose `field` is within `regions` (None = every region)."""
    return Q() if regions is None else Q(**{f"{field}__in": sorted(regions)})


def actor_for_user(user: Any) -> Actor:
    """A staff user acting outside a request (a command, a test), with their region scope."""
    return Actor.for_user(user, regions=allowed_regions(user))
