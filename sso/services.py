"""SSO writes: just-in-time provisioning with the group mapping re-applied at every sign-in,
SCIM provisioning and deprovisioning, and the break-glass alert. Every outcome is audited with
ids only (never a token, an assertion, a claim value or an e-mail address)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from access.models import ApiToken, RegionScope
from access.principals import principal_generation_bump
from access.roles import ALL_ROLES, SERVICE_ACCOUNT
from audit.actors import Actor
from audit.services import audit_alert_raise, audit_record
from core.errors import DomainError
from sso.models import GroupMapping, IdentityProvider, ScimGroup, ScimToken, SsoIdentity


class SignInRefused(DomainError):
    code = "sso_refused"


@dataclass(frozen=True)
class Grant:
    roles: frozenset[str]
    all_regions: bool
    regions: tuple[str, ...]


def mapping_grant(*, provider: IdentityProvider, groups: Iterable[str]) -> Grant:
    """The roles and regions the provider's mapping gives to these groups (union)."""
    values = {str(g) for g in groups}
    rows = GroupMapping.objects.filter(provider=provider, value__in=values)
    roles: set[str] = set()
    regions: set[str] = set()
    all_regions = False
    for row in rows:
        roles.add(row.role)
        all_regions = all_regions or row.all_regions
        regions.update(str(r) for r in row.regions or [])
    return Grant(frozenset(roles), all_regions, tuple(sorted(regions)))


def _apply_grant(user: Any, grant: Grant) -> None:
    """Make the user's roles and region scope exactly the grant (other groups are kept)."""
    keep = list(user.groups.exclude(name__in=ALL_ROLES))
    user.groups.set([*keep, *Group.objects.filter(name__in=grant.roles)])
    RegionScope.objects.update_or_create(
        user=user, defaults={"all_regions": grant.all_regions, "regions": list(grant.regions)}
    )
    principal_generation_bump()


def _audit(actor: Actor, action: str, provider: IdentityProvider, object_id: Any, reason=""):
    audit_record(
        actor=actor,
        action=action,
        object_type="sso.identityprovider" if object_id is None else "auth.user",
        object_id=provider.pk if object_id is None else object_id,
        reason=reason[:200],
    )


def sso_refusal_record(*, provider: IdentityProvider, actor: Actor, reason: str) -> None:
    """Audit a failed sign-in: the provider's id and a fixed reason code only."""
    with transaction.atomic():
        _audit(actor, "sso.signin.failed", provider, None, reason)


def _user_for(provider: IdentityProvider, subject: str, email: str) -> tuple[Any, bool]:
    link = SsoIdentity.objects.select_related("user").filter(provider=provider, subject=subject)
    found = link.first()
    if found is not None:
        return found.user, False
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=email).first() if email else None
    if user is not None:
        _linkable_check(provider, user)
    created = user is None
    if user is None:
        username = (email or f"{provider.slug}-{subject}")[:140]
        if user_model.objects.filter(username=username).exists():
            username = f"{username}-{secrets.token_hex(4)}"
        user = user_model.objects.create_user(username=username, email=email or "")
        user.set_unusable_password()
        user.is_staff = True
        user.save()
    SsoIdentity.objects.create(provider=provider, subject=subject, user=user)
    return user, created


def _linkable_check(provider: IdentityProvider, user: Any) -> None:
    """An existing account an IdP identity may take by its e-mail address, or SignInRefused:
    never a local superuser (the break-glass account), a service account (its API tokens
    would act with the roles and regions the provider's mapping grants) or an account another
    provider signs in (that provider's mapping decides its roles and regions, not this one's)."""
    if user.is_superuser:
        raise SignInRefused(
            "This address belongs to a local administrator account.", code="local_superuser"
        )
    if user.groups.filter(name=SERVICE_ACCOUNT).exists():
        raise SignInRefused(
            "This address belongs to an account no provider signs in.", code="service_account"
        )
    if SsoIdentity.objects.filter(user=user).exclude(provider=provider).exists():
        raise SignInRefused(
            "This address belongs to an account another provider signs in.",
            code="other_provider",
        )


def sso_sign_in(
    *, provider: IdentityProvider, subject: str, email: str, groups: Iterable[str], actor: Actor
) -> Any:
    """The staff user for a verified IdP identity: created on first sign-in (JIT), its roles
    and regions set from the mapping every time. No mapped role: refused (and roles removed)."""
    groups = [str(g) for g in groups]
    grant = mapping_grant(provider=provider, groups=groups)
    try:
        user, created = _user_for_sign_in(provider, subject, email.strip().lower())
    except SignInRefused as exc:
        sso_refusal_record(provider=provider, actor=actor, reason=exc.code)
        raise
    with transaction.atomic():
        _apply_grant(user, grant)
        SsoIdentity.objects.filter(provider=provider, subject=subject).update(
            groups=groups, last_sign_in_at=timezone.now()
        )
        if created:
            _audit(actor, "sso.user.provision", provider, user.pk, "jit")
        if not grant.roles:
            _audit(actor, "sso.signin.failed", provider, user.pk, "no_mapped_role")
    if not grant.roles:
        raise SignInRefused("Your identity provider grants you no role in Custodia.")
    with transaction.atomic():
        _audit(actor, "sso.signin.success", provider, user.pk, provider.slug)
    return user


def _user_for_sign_in(provider: IdentityProvider, subject: str, email: str) -> tuple[Any, bool]:
    """The linked (or new) user; SignInRefused (nothing written) if it may not sign in."""
    with transaction.atomic():
        user, created = _user_for(provider, subject, email)
        if not user.is_active:
            raise SignInRefused("This account is deactivated.", code="inactive")
    return user, created


def sessions_end(*, user_id: int) -> int:
    """Delete every database session signed in as this user."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id):
            session.delete()
            ended += 1
    return ended


def user_deprovision(*, user: Any, provider: IdentityProvider, actor: Actor) -> None:
    """Deactivate at once: sessions ended, API tokens revoked, roles and regions removed."""
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        _apply_grant(user, Grant(frozenset(), False, ()))
        sessions_end(user_id=user.pk)
        _audit(actor, "sso.user.deprovision", provider, user.pk, "scim")
    user.is_active = False


def user_reactivate(*, user: Any, provider: IdentityProvider, actor: Actor) -> None:
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=True)
        _audit(actor, "sso.user.reactivate", provider, user.pk, "scim")
    user.is_active = True


def scim_user_upsert(
    *,
    provider: IdentityProvider,
    external_id: str,
    email: str,
    groups: Iterable[str],
    active: bool,
    actor: Actor,
) -> Any:
    """Create or update a staff user from SCIM; roles and regions from the mapping."""
    with transaction.atomic():
        user, created = _user_for(provider, external_id, email.strip().lower())
        if email and user.email != email.strip().lower():
            type(user).objects.filter(pk=user.pk).update(email=email.strip().lower())
        groups = [str(g) for g in groups]
        SsoIdentity.objects.filter(provider=provider, subject=external_id).update(groups=groups)
        _apply_grant(user, mapping_grant(provider=provider, groups=groups))
        _audit(
            actor, "sso.user.provision" if created else "sso.user.update", provider, user.pk, "scim"
        )
    if not active and user.is_active:
        user_deprovision(user=user, provider=provider, actor=actor)
    elif active and not user.is_active:
        user_reactivate(user=user, provider=provider, actor=actor)
    return user


def scim_token_issue(*, provider: IdentityProvider, actor: Actor) -> str:
    """A new SCIM bearer token for the provider, returned once."""
    raw = "scim_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ScimToken.objects.create(
            provider=provider, token_hash=hashlib.sha256(raw.encode()).hexdigest()
        )
        audit_record(
            actor=actor,
            action="sso.scim_token.issue",
            object_type="sso.scimtoken",
            object_id=token.pk,
        )
    return raw


def break_glass_record(*, user: Any, actor: Actor) -> None:
    """A password sign-in by a superuser of an SSO-only domain: audited and alerted, every time."""
    with transaction.atomic():
        audit_record(
            actor=actor, action="sso.break_glass", object_type="auth.user", object_id=user.pk
        )
        audit_alert_raise(
            kind="break_glass",
            message=f"Break-glass password sign-in by superuser id {user.pk} (SSO-only domain)",
            dedupe=False,
        )


def identity_groups_set(*, identity: SsoIdentity, groups: Iterable[str], actor: Actor) -> None:
    """New IdP groups for one identity (SCIM group membership): mapping applied at once."""
    groups = sorted({str(g) for g in groups})
    with transaction.atomic():
        SsoIdentity.objects.filter(pk=identity.pk).update(groups=groups)
        _apply_grant(identity.user, mapping_grant(provider=identity.provider, groups=groups))
        _audit(actor, "sso.user.groups", identity.provider, identity.user_id, "scim")
    identity.groups = groups


def scim_token_provider(raw: str) -> IdentityProvider | None:
    digest = hashlib.sha256(raw.encode()).hexdigest()
    token = (
        ScimToken.objects.select_related("provider")
        .filter(token_hash=digest, revoked_at__isnull=True)
        .first()
    )
    return token.provider if token is not None else None


def scim_group_create(*, provider: IdentityProvider, name: str, actor: Actor) -> ScimGroup:
    with transaction.atomic():
        group, created = ScimGroup.objects.get_or_create(provider=provider, display_name=name)
        if created:
            audit_record(
                actor=actor,
                action="sso.group.create",
                object_type="sso.scimgroup",
                object_id=group.pk,
            )
    return group


def scim_group_rename(*, group: ScimGroup, name: str, actor: Actor) -> None:
    """A new displayName from the IdP: the members keep the group under its new name (their
    roles follow the mapping of the new name at once)."""
    old = group.display_name
    if name == old:
        return
    with transaction.atomic():
        identities = SsoIdentity.objects.select_for_update().filter(provider=group.provider)
        for identity in identities.select_related("user", "provider"):
            if old in (identity.groups or []):
                renamed = [name if g == old else g for g in identity.groups]
                identity_groups_set(identity=identity, groups=renamed, actor=actor)
        ScimGroup.objects.filter(pk=group.pk).update(display_name=name)
        group.display_name = name
        audit_record(
            actor=actor, action="sso.group.rename", object_type="sso.scimgroup", object_id=group.pk
        )


def scim_group_delete(*, group: ScimGroup, actor: Actor) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor, action="sso.group.delete", object_type="sso.scimgroup", object_id=group.pk
        )
        group.delete()


def saml_assertion_claim(*, provider: IdentityProvider, assertion_id: str, expires_at: Any) -> bool:
    """Record a SAML assertion id as used; False if it was used before (a replay)."""
    from django.db import IntegrityError

    from sso.models import SeenAssertion

    SeenAssertion.objects.filter(expires_at__lt=timezone.now()).delete()
    try:
        with transaction.atomic():
            SeenAssertion.objects.create(
                provider=provider, assertion_id=assertion_id, expires_at=expires_at
            )
    except IntegrityError:
        return False
    return True
