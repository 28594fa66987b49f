"""Writes about access: roles, region scopes, API tokens, unmask grants, per-object shares.
Every change is audited."""

from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from access import roles, tokens
from access.models import ApiToken, UnmaskGrant
from access.principals import principal_generation_bump
from access.selectors import api_token_within, service_account_within
from audit.actors import Actor
from audit.services import audit_record, audit_subject_action
from core.errors import DomainError, ForbiddenError, NotFoundError, echo
from core.regions import KNOWN_REGIONS

TOKEN_SCOPES = (
    "profiles:read",
    "profiles:write",
    "consent:read",
    "consent:write",
    "dsar:read",
    "dsar:manage",
    "audit:read",
    "destinations:read",
)
UNMASK_MAX_MINUTES = 60


def sync_roles(*, permission_model: Any = Permission, group_model: Any = Group) -> dict[str, int]:
    """Create the role groups and set exactly their declared permissions (idempotent)."""
    all_permissions = list(permission_model.objects.select_related("content_type"))
    counts = {}
    for role, patterns in roles.ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = [
            p
            for p in all_permissions
            if any(
                fnmatch.fnmatchcase(f"{p.content_type.app_label}.{p.codename}", pattern)
                for pattern in patterns
            )
        ]
        group.permissions.set(wanted)
        counts[role] = len(wanted)
    return counts


def api_token_refusals(*, user: Any, expires_at: dt.datetime | None) -> dict[str, list[str]]:
    """Why a token may not be issued to `user` with `expires_at`, by field (empty: it may).
    A token acts without a person or a second factor behind it, so only service accounts hold
    one; the admin form shows these reasons before anything is created."""
    refusals: dict[str, list[str]] = {}
    if not roles.is_service_account(user):
        refusals["user"] = [
            f"API tokens are only for service accounts (role {roles.SERVICE_ACCOUNT!r} only, "
            "not staff, not superuser, active)"
        ]
    if expires_at is not None and expires_at <= timezone.now():
        refusals["expires_at"] = ["the expiry must be in the future"]
    return refusals


def api_token_shape_refusals(
    *, scopes: list[str], regions: list[str] | None, all_regions: bool
) -> dict[str, list[str]]:
    """Why a token of these scopes and regions cannot exist, by field (empty: it can): known
    scopes, at least one; known regions, at least one unless every region. The admin form
    shows these reasons before anything is created."""
    refusals: dict[str, list[str]] = {}
    if not scopes or set(scopes) - set(TOKEN_SCOPES):
        refusals["scopes"] = [f"choose from {', '.join(TOKEN_SCOPES)}"]
    unknown = sorted(set(regions or []) - set(KNOWN_REGIONS))
    if unknown:
        refusals["regions"] = [
            f"unknown: {', '.join(echo(r) for r in unknown)}; "
            f"choose from {', '.join(KNOWN_REGIONS)}"
        ]
    elif not all_regions and not regions:
        refusals["regions"] = ["required unless all_regions"]
    return refusals


def api_token_reach_refusals(
    *, actor: Actor, regions: list[str] | None, all_regions: bool
) -> dict[str, list[str]]:
    """Why `actor` may not issue a token reaching these regions (empty: they may). Whoever
    issues a token is shown its secret: an officer limited to some regions issues tokens of
    those regions only (a token's reach is its regions narrowed by its service account's, and
    a service account of every region is common)."""
    if actor.regions is None:
        return {}
    if all_regions:
        return {"all_regions": ["you may issue tokens only for regions you see yourself"]}
    outside = sorted({r.strip().upper() for r in regions or []} - actor.regions)
    if outside:
        return {"regions": [f"outside your regions: {', '.join(outside)}"]}
    return {}


def api_token_create(
    *,
    user: Any,
    name: str,
    scopes: list[str],
    actor: Actor,
    regions: list[str] | None = None,
    all_regions: bool = False,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new token for a service account; the raw secret is returned once and never stored.
    Refused for any other account (superusers and staff included) and for an expiry that has
    already passed; a service account of regions outside the actor's is "not found", as a
    missing one (`service_account_within`)."""
    if not service_account_within(user, actor.regions):
        raise NotFoundError("User not found.")
    refusals = api_token_refusals(user=user, expires_at=expires_at)
    if refusals:
        raise DomainError("This token cannot be created.", code="invalid", fields=refusals)
    shape = api_token_shape_refusals(scopes=scopes, regions=regions, all_regions=all_regions)
    if "scopes" in shape:
        raise DomainError("Unknown or missing scopes.", code="invalid", fields=shape)
    if shape:
        message = "Unknown regions." if regions else "Give regions or all_regions."
        raise DomainError(message, code="invalid", fields=shape)
    outside = api_token_reach_refusals(actor=actor, regions=regions, all_regions=all_regions)
    if outside:
        raise ForbiddenError(
            "A token may reach only regions you see yourself.",
            code="region_not_allowed",
            fields=outside,
        )
    raw, prefix, digest = tokens.new_token()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            token_prefix=prefix,
            token_hash=digest,
            scopes=sorted(set(scopes)),
            regions=sorted(set(regions or [])),
            all_regions=all_regions,
            expires_at=expires_at,
        )
        audit_record(
            actor=actor,
            action="access.apitoken.create",
            object_type="access.apitoken",
            object_id=token.pk,
            fields=["scopes", "regions"],
        )
    return token, raw


def api_token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Revoke `token` (refused on its next request); audited. An actor limited to some regions
    revokes only tokens reaching none outside them (403 `region_not_allowed`): revoking cuts a
    service of other regions off, as issuing one would let it in."""
    if not api_token_within(token, actor.regions):
        raise ForbiddenError(
            "This token reaches regions outside yours: only an officer who sees all of them "
            "may revoke it.",
            code="region_not_allowed",
        )
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        principal_generation_bump()  # update() sends no signal: refused on the next request
        audit_record(
            actor=actor,
            action="access.apitoken.revoke",
            object_type="access.apitoken",
            object_id=token.pk,
        )
    token.refresh_from_db()
    return token


def unmask_grant_create(
    *, user: Any, subject: Any, reason: str, actor: Actor, minutes: int = 15
) -> UnmaskGrant:
    """Let `user` see one in-scope subject's values in clear for a limited time, with a reason.

    Allowed to roles holding `access.add_unmaskgrant` (privacy officer, DPO) and to a support
    agent for a subject shared with them for a case; never to auditors. The subject must be in
    the actor's regions, or shared with the user. Audited."""
    from access.scoping import subject_visible

    reason = (reason or "").strip()
    if len(reason) < 10:
        raise DomainError(
            "State why you need to see this person's data (10 characters or more).",
            code="reason_required",
            fields={"reason": ["required"]},
        )
    shared = subject.shares.filter(user=user, expires_at__gt=timezone.now()).exists()
    if not subject_visible(user, subject) or not (actor.covers(subject.region) or shared):
        from core.errors import NotFoundError

        raise NotFoundError("Subject not found.")
    if not (user.has_perm("access.add_unmaskgrant") or shared):
        raise ForbiddenError("Your role cannot unmask personal data.")
    minutes = max(1, min(minutes, UNMASK_MAX_MINUTES))
    with transaction.atomic():
        grant = UnmaskGrant.objects.create(
            user=user,
            subject_id=subject.pk,
            reason=reason[:500],
            expires_at=timezone.now() + dt.timedelta(minutes=minutes),
        )
        audit_subject_action(
            actor=actor,
            action="access.subject.unmask",
            subject=subject,
            reason=reason,
        )
    return grant
