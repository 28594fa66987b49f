from django.conf import settings
from django.db import models

from access.scoping import ScopedManager


class RegionScope(models.Model):
    """Which regions of subjects a staff user may see. No row means no region at all."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="region_scope"
    )
    all_regions = models.BooleanField(default=False)
    regions = models.JSONField(default=list, blank=True, help_text="Region codes, e.g. EU, US-CA")

    def __str__(self) -> str:
        return "all regions" if self.all_regions else ", ".join(self.regions) or "no region"


class UnmaskGrant(models.Model):
    """A time-limited right for one user to see one subject's values in clear, with a reason."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="unmask_grants"
    )
    subject_id = models.UUIDField(db_index=True)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    # Its subject's region decides who sees it: the reason may name the person's case.
    scope_region_of = ("profiles.Subject", "subject_id")
    objects = ScopedManager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("view_unmasked", "Can see personal values unmasked")]

    def __str__(self) -> str:
        return f"unmask {self.subject_id} for {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class ApiToken(models.Model):
    """A bearer token for a service account. Only a SHA-256 of the secret is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    token_prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, help_text="e.g. consent:write, profiles:read")
    all_regions = models.BooleanField(default=False)
    regions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_prefix}…)"
