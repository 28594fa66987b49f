"""Purposes, notices, jurisdictions, the append-only consent ledger and its projection."""

from __future__ import annotations

import uuid

from django.db import models

from access.scoping import ScopedManager


class Jurisdiction(models.Model):
    """A privacy regime as it applies to regions: consent model, GPC, deadlines."""

    class ConsentModel(models.TextChoices):
        OPT_IN = "opt_in"
        OPT_OUT = "opt_out"

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    regions = models.JSONField(default=list, help_text="region codes this regime governs")
    consent_model = models.CharField(max_length=8, choices=ConsentModel.choices)
    honours_gpc = models.BooleanField(
        default=False, help_text="Global Privacy Control is a valid opt-out"
    )
    gpc_overridable = models.BooleanField(
        default=False, help_text="an explicit opt-in after the signal may override GPC (CO, CT)"
    )
    consent_max_age_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="re-prompt after this; empty = no expiry"
    )
    dsar_deadline_days = models.PositiveIntegerField(default=0)
    dsar_deadline_months = models.PositiveIntegerField(default=0)
    dsar_extension_days = models.PositiveIntegerField(default=0)
    dsar_extension_months = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Purpose(models.Model):
    """Why data is used. `sale_sharing` purposes are what GPC and CCPA opt-outs switch off."""

    class LawfulBasis(models.TextChoices):
        CONSENT = "consent"
        CONTRACT = "contract"
        LEGAL_OBLIGATION = "legal_obligation"
        VITAL_INTERESTS = "vital_interests"
        PUBLIC_TASK = "public_task"
        LEGITIMATE_INTERESTS = "legitimate_interests"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField()
    lawful_basis = models.CharField(
        max_length=24, choices=LawfulBasis.choices, default=LawfulBasis.CONSENT
    )
    essential = models.BooleanField(
        default=False, help_text="needed to provide the service; always allowed"
    )
    sale_sharing = models.BooleanField(
        default=False, help_text="sale/sharing or targeted advertising"
    )
    sensitive = models.BooleanField(
        default=False, help_text="uses sensitive data: opt-in everywhere"
    )

    class Meta:
        ordering = ["essential", "slug"]

    def __str__(self) -> str:
        return self.name


class Notice(models.Model):
    """A versioned notice text per language; every consent points at the version shown."""

    language = models.CharField(max_length=8)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    text = models.TextField()
    purposes = models.ManyToManyField(Purpose, related_name="notices")
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["language", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["language", "version"], name="notice_version")
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version} ({self.language})"


class ConsentRecord(models.Model):
    """One entry of the append-only ledger: never updated, never deleted.

    Each record carries the hash of the previous record of the same subject or visitor, so a
    person's consent history is provable on its own (Art. 7(1))."""

    class State(models.TextChoices):
        GRANTED = "granted"
        DENIED = "denied"
        WITHDRAWN = "withdrawn"

    class Channel(models.TextChoices):
        BANNER = "banner"
        PRIVACY_CENTER = "privacy_center"
        API = "api"
        IMPORT = "import"
        ADMIN = "admin"
        DSAR = "dsar"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.ForeignKey(
        "profiles.Subject",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consent_records",
    )
    visitor_id = models.CharField(max_length=64, blank=True, db_index=True)
    region = models.CharField(max_length=16)
    jurisdiction = models.CharField(max_length=16)
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=9, choices=State.choices)
    notice = models.ForeignKey(
        Notice, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    recorded_at = models.DateTimeField(db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_truncated = models.CharField(max_length=45, blank=True)
    gpc = models.BooleanField(default=False)
    tc_string = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    recorded_by = models.CharField(max_length=150, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = ScopedManager()
    scope_region_field = "region"

    class Meta:
        ordering = ["-recorded_at"]
        indexes = [
            models.Index(fields=["subject", "purpose", "recorded_at"]),
            models.Index(fields=["visitor_id", "purpose", "recorded_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.purpose_id} {self.state} at {self.recorded_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("consent records are append-only")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("consent records are append-only")


class CurrentConsent(models.Model):
    """The latest state per (subject or visitor, purpose): a projection of the ledger, updated
    in the same transaction as each record, for fast decisions."""

    subject = models.ForeignKey(
        "profiles.Subject",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="current_consents",
    )
    visitor_id = models.CharField(max_length=64, blank=True)
    purpose = models.ForeignKey(Purpose, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=9, choices=ConsentRecord.State.choices)
    record = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="+")
    gpc = models.BooleanField(default=False)
    recorded_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    needs_reprompt = models.BooleanField(default=False, help_text="expired: ask again")
    region = models.CharField(max_length=16)

    objects = ScopedManager()
    scope_region_field = "region"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "purpose"],
                condition=models.Q(subject__isnull=False),
                name="current_consent_subject",
            ),
            models.UniqueConstraint(
                fields=["visitor_id", "purpose"],
                condition=models.Q(subject__isnull=True),
                name="current_consent_visitor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose_id}: {self.state}"


class ConsentProperty(models.Model):
    """A website or app embedding the banner: identified by a publishable key (public, not a
    secret), limited to its origins (CORS) and rate-limited per key."""

    name = models.CharField(max_length=100)
    publishable_key = models.CharField(max_length=40, unique=True)
    allowed_origins = models.JSONField(default=list, help_text="e.g. https://shop.example.com")
    default_region = models.CharField(max_length=16, default="EU")
    default_language = models.CharField(max_length=8, default="en")
    purposes = models.ManyToManyField(Purpose, related_name="properties")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "consent properties"

    def __str__(self) -> str:
        return self.name


class ConsentWebhook(models.Model):
    """A system notified of every consent change (signed with its own secret)."""

    name = models.CharField(max_length=100)
    url = models.URLField()
    secret = models.CharField(
        max_length=100, help_text="HMAC-SHA256 key of the Custodia-Signature header"
    )
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """Outbox row: written in the same transaction as the consent record, delivered by Celery
    with retries and backoff. The payload holds ids and states, never personal values."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    webhook = models.ForeignKey(ConsentWebhook, on_delete=models.CASCADE, related_name="deliveries")
    payload = models.JSONField()
    status = models.CharField(
        max_length=9, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.webhook_id}: {self.status}"
