"""Single sign-on: identity providers, SSO-only e-mail domains, IdP group -> role mappings,
the link between an IdP subject and a local staff user, and SCIM bearer tokens."""

from __future__ import annotations

import base64
import uuid

from django.conf import settings
from django.db import models

from access.roles import ALL_ROLES, SERVICE_ACCOUNT
from profiles.crypto.keyring import DecryptionError, master_keyring

STAFF_ROLES = tuple(role for role in ALL_ROLES if role != SERVICE_ACCOUNT)


class IdentityProvider(models.Model):
    OIDC = "oidc"
    SAML = "saml"
    KINDS = [(OIDC, "OpenID Connect"), (SAML, "SAML 2.0")]

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=4, choices=KINDS)
    name = models.CharField(max_length=100, help_text='Shown as "Sign in with <name>"')
    slug = models.SlugField(unique=True)
    enabled = models.BooleanField(default=True)
    # SAML 2.0
    entity_id = models.CharField("IdP entity id", max_length=500, blank=True)
    sso_url = models.URLField("IdP SSO URL", max_length=500, blank=True)
    certificate = models.TextField("IdP signing certificate (PEM)", blank=True)
    # OpenID Connect
    issuer = models.URLField(max_length=500, blank=True)
    client_id = models.CharField(max_length=255, blank=True)
    client_secret_sealed = models.TextField(blank=True, editable=False)
    groups_claim = models.CharField(
        max_length=100, default="groups", help_text="Claim or attribute holding the groups"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def _context(self) -> bytes:
        return f"custodia|sso|idp|{self.key}|client_secret".encode()

    def set_client_secret(self, raw: str) -> None:
        """Seal the client secret with the hub's master keyring (bound to this provider)."""
        if not raw:
            self.client_secret_sealed = ""
            return
        wrapped, version = master_keyring().wrap(raw.encode(), context=self._context())
        self.client_secret_sealed = f"{version}:" + base64.b64encode(wrapped).decode("ascii")

    def client_secret(self) -> str:
        if not self.client_secret_sealed:
            return ""
        version, _, body = self.client_secret_sealed.partition(":")
        try:
            raw = master_keyring().unwrap(
                base64.b64decode(body), version=int(version), context=self._context()
            )
        except (ValueError, DecryptionError) as exc:
            raise DecryptionError("the client secret cannot be opened") from exc
        return raw.decode()


class SsoDomain(models.Model):
    """Staff with an e-mail address in this domain sign in through SSO only."""

    domain = models.CharField(max_length=253, unique=True, help_text="e.g. example.com")
    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "SSO-only domain"
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower().lstrip("@")
        super().save(*args, **kwargs)


class GroupMapping(models.Model):
    """An IdP group (or claim value) grants one role and region scopes, at every sign-in."""

    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="mappings"
    )
    value = models.CharField(max_length=255, help_text="The group name or claim value")
    role = models.CharField(max_length=50, choices=[(r, r) for r in STAFF_ROLES])
    all_regions = models.BooleanField(default=False)
    regions = models.JSONField(default=list, blank=True, help_text="Region codes, e.g. EU")

    class Meta:
        ordering = ["provider", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "value", "role"], name="sso_groupmapping_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.value} -> {self.role}"


class SsoIdentity(models.Model):
    """The IdP's stable subject (OIDC `sub`, SAML NameID, SCIM id) for a local staff user."""

    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="identities"
    )
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities"
    )
    groups = models.JSONField(default=list, blank=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "SSO identities"
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="sso_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider.slug}:{self.pk}"


class ScimToken(models.Model):
    """The bearer token a provider's SCIM client uses. Only a SHA-256 of it is stored."""

    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="scim_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"SCIM token {self.pk} for {self.provider.slug}"


class ScimGroup(models.Model):
    """A group pushed by the provider's SCIM client; its members are SSO identities whose
    `groups` list its name (so the mapping treats it as an IdP group)."""

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="scim_groups"
    )
    display_name = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "display_name"], name="sso_scimgroup_unique"
            )
        ]

    def __str__(self) -> str:
        return self.display_name


class SeenAssertion(models.Model):
    """SAML assertion ids already accepted, kept until they expire: a replay is refused."""

    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "assertion_id"], name="sso_seenassertion_unique"
            )
        ]

    def __str__(self) -> str:
        return self.assertion_id
