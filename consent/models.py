"""Purposes, notices, jurisdictions, the append-only consent ledger and its projection."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from access.scoping import ScopedManager
from core.periods import at_most_days, at_most_months


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
        null=True,
        blank=True,
        validators=[at_most_days],
        help_text="re-prompt after this; empty = no expiry",
    )
    dsar_deadline_days = models.PositiveIntegerField(default=0, validators=[at_most_days])
    dsar_deadline_months = models.PositiveIntegerField(default=0, validators=[at_most_months])
    dsar_extension_days = models.PositiveIntegerField(default=0, validators=[at_most_days])
    dsar_extension_months = models.PositiveIntegerField(default=0, validators=[at_most_months])
    notes = models.TextField(blank=True)
    statute = models.CharField(max_length=200, blank=True, help_text="the law's citation")
    effective_date = models.DateField(
        null=True, blank=True, help_text="in force from; before it the fallback regime applies"
    )
    fallback = models.CharField(
        max_length=16, blank=True, help_text="code of the regime that applies before that date"
    )
    opt_out_rights = models.JSONField(
        default=list, blank=True, help_text="sale, targeted_advertising, profiling"
    )
    sensitive_opt_in = models.BooleanField(
        default=False, help_text="the law requires opt-in consent for sensitive data"
    )
    gpc_required_from = models.DateField(
        null=True, blank=True, help_text="universal opt-out signals must be honoured from"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def in_force(self, on: dt.date) -> bool:
        return self.effective_date is None or on >= self.effective_date

    def honours_gpc_on(self, on: dt.date) -> bool:
        """GPC is a valid opt-out on that day (a law may require it after it takes effect)."""
        required_from = self.gpc_required_from
        return self.honours_gpc and (required_from is None or on >= required_from)


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
    # Every record is written once and indexed eleven times less four: a subject's and a
    # visitor's records are found by the (owner, purpose, time) indexes below, whose first
    # column serves a lookup by owner alone, so neither column has an index of its own.
    subject = models.ForeignKey(
        "profiles.Subject",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="consent_records",
        db_index=False,
    )
    visitor_id = models.CharField(max_length=64, blank=True)
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
    gpp_string = models.TextField(
        blank=True, help_text="the IAB GPP string the banner showed for this choice"
    )
    language = models.CharField(
        max_length=16, blank=True, help_text="language version of the notice and banner shown"
    )
    # Unique where set (a partial index: the banner's records, which have none, add no entry).
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
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
            # An officer of some regions: their newest records (the admin list) and their
            # count read this index, not every record of every region.
            models.Index(fields=["region", "recorded_at"], name="consent_record_region_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="consent_record_idempotency_key",
            )
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

    # Found by subject through the partial unique index on (subject, purpose) below.
    subject = models.ForeignKey(
        "profiles.Subject",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="current_consents",
        db_index=False,
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


def identity_secret() -> str:
    """A fresh key for signing identity assertions (256 bits, URL-safe)."""
    import secrets

    return secrets.token_urlsafe(32)


def new_publishable_key() -> str:
    """A fresh publishable key for a banner property (public: it names, it does not prove)."""
    return "pk_" + secrets.token_urlsafe(18)


class ConsentProperty(models.Model):
    """A website or app embedding the banner: identified by a publishable key (public, not a
    secret), limited to its origins (CORS) and rate-limited per key. Its backend signs identity
    assertions with `identity_secret` so a known customer's banner choices reach their record."""

    name = models.CharField(max_length=100)
    publishable_key = models.CharField(
        max_length=40,
        unique=True,
        default=new_publishable_key,
        help_text="the banner's key (public, not a secret); generated for a new property",
    )
    allowed_origins = models.JSONField(default=list, help_text="e.g. https://shop.example.com")
    default_region = models.CharField(max_length=16, default="EU")
    default_language = models.CharField(max_length=8, default="en")
    purposes = models.ManyToManyField(Purpose, related_name="properties")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    identity_secret = models.CharField(
        max_length=128,
        default=identity_secret,
        editable=False,
        help_text="HMAC-SHA256 key of identity assertions: generated, shown once, rotatable",
    )
    identity_regions = models.JSONField(
        default=list,
        blank=True,
        help_text="regions whose subjects identified visitors may be linked to; "
        "empty = the default region only",
    )

    class Meta:
        verbose_name_plural = "consent properties"

    def __str__(self) -> str:
        return self.name

    @property
    def identity_scope(self) -> frozenset[str]:
        return frozenset(self.identity_regions or [self.default_region])


class ConsentModeMapping(models.Model):
    """Google Consent Mode v2: which of the property's purposes a consent type stands for. The
    type is granted when every purpose mapped to it is (essential ones always are); a type
    with no mapping stays denied."""

    class ConsentType(models.TextChoices):
        AD_STORAGE = "ad_storage"
        AD_USER_DATA = "ad_user_data"
        AD_PERSONALIZATION = "ad_personalization"
        ANALYTICS_STORAGE = "analytics_storage"
        FUNCTIONALITY_STORAGE = "functionality_storage"
        PERSONALIZATION_STORAGE = "personalization_storage"
        SECURITY_STORAGE = "security_storage"

    property = models.ForeignKey(
        ConsentProperty, on_delete=models.CASCADE, related_name="consent_mode_mappings"
    )
    consent_type = models.CharField(max_length=24, choices=ConsentType.choices)
    purposes = models.ManyToManyField(Purpose, related_name="+")

    class Meta:
        ordering = ["consent_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["property", "consent_type"], name="consent_mode_type_once"
            )
        ]

    def __str__(self) -> str:
        return self.consent_type


class VisitorLink(models.Model):
    """A banner visitor identified by a signed assertion of the property's backend: their later
    banner choices are recorded for the subject too. The latest identification wins."""

    visitor_id = models.CharField(max_length=64, unique=True)
    subject = models.ForeignKey(
        "profiles.Subject", on_delete=models.CASCADE, related_name="visitor_links"
    )
    property = models.ForeignKey(ConsentProperty, on_delete=models.CASCADE, related_name="+")
    region = models.CharField(max_length=16)
    linked_at = models.DateTimeField()

    objects = ScopedManager()
    scope_region_field = "region"

    def __str__(self) -> str:
        return f"visitor {self.visitor_id[:8]}… linked {self.linked_at:%Y-%m-%d %H:%M}"


class IdentityAssertionUse(models.Model):
    """The nonce of every identity assertion accepted, until it expires: a replay is refused."""

    property = models.ForeignKey(ConsentProperty, on_delete=models.CASCADE, related_name="+")
    nonce = models.CharField(max_length=64)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["property", "nonce"], name="identity_nonce_once")
        ]

    def __str__(self) -> str:
        return f"nonce until {self.expires_at:%Y-%m-%d %H:%M}"


class ConsentWebhook(models.Model):
    """A system notified of every consent change (signed with its own secret)."""

    name = models.CharField(max_length=100)
    url = models.URLField()
    secret = models.CharField(
        max_length=100, help_text="HMAC-SHA256 key of the Custodia-Signature header"
    )
    active = models.BooleanField(default=True)
    consent_changes = models.BooleanField(
        default=True,
        help_text="receives every consent change; off for a destination's audience push, which "
        "must only ever carry the people the destination may receive",
    )

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
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.webhook_id}: {self.status}"


def _profiles_data_categories() -> list[str]:
    from profiles.models import DataCategory

    return list(DataCategory.values)


def _known_regions() -> tuple[str, ...]:
    from core.regions import KNOWN_REGIONS

    return KNOWN_REGIONS


def _string_list(value: Any, field: str, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.setdefault(field, []).append("Give a list of non-empty texts.")
        return []
    return [v.strip() for v in value]


class ProcessingActivity(models.Model):
    """One entry of the record of processing activities (GDPR Art. 30(1)): why (purpose and
    lawful basis), whose data and which, where it lives (systems), who receives it, where it
    goes abroad and how long it is kept. With the Systems it forms the data map."""

    class TransferSafeguard(models.TextChoices):
        ADEQUACY = "adequacy", "Adequacy decision (Art. 45)"
        SCCS = "sccs", "Standard contractual clauses (Art. 46(2)(c))"
        BCRS = "bcrs", "Binding corporate rules (Art. 47)"
        CERTIFICATION = "certification", "Certification or code of conduct (Art. 46(2)(e)-(f))"
        DEROGATION = "derogation", "Derogation for a specific situation (Art. 49)"

    SUBJECT_CATEGORY_EXAMPLES = ("customers", "prospects", "website visitors", "employees")

    name = models.CharField(max_length=150, unique=True)
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="activities")
    description = models.TextField(blank=True)
    lawful_basis = models.CharField(
        max_length=24,
        choices=Purpose.LawfulBasis.choices,
        blank=True,
        help_text="empty = the purpose's lawful basis",
    )
    data_categories = models.JSONField(
        default=list, blank=True, help_text="profiles data categories, e.g. contact, behavioral"
    )
    subject_categories = models.JSONField(
        default=list, blank=True, help_text="e.g. customers, prospects, website visitors"
    )
    systems = models.ManyToManyField(
        "profiles.System", blank=True, related_name="processing_activities"
    )
    recipients = models.JSONField(
        default=list, blank=True, help_text="recipient categories or names, e.g. 'payment provider'"
    )
    transfers = models.JSONField(
        default=list,
        blank=True,
        help_text='transfers outside the EEA: [{"country": "US", "safeguard": "sccs"}]',
    )
    retention = models.CharField(
        max_length=300, blank=True, help_text="how long, in words (Art. 30(1)(f))"
    )
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="the same in days, if it is a fixed period"
    )
    controller = models.CharField(
        max_length=300, blank=True, help_text="empty = CUSTODIA_CONTROLLER setting"
    )
    joint_controller = models.CharField(max_length=300, blank=True)
    dpo_contact = models.CharField(
        max_length=300, blank=True, help_text="empty = CUSTODIA_DPO_CONTACT setting"
    )
    security_measures = models.TextField(blank=True, help_text="Art. 32 measures, in general")
    regions = models.JSONField(
        default=list, blank=True, help_text="region codes it applies to; empty = all regions"
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "processing activities"

    def __str__(self) -> str:
        return self.name

    @property
    def effective_lawful_basis(self) -> str:
        return self.lawful_basis or (self.purpose.lawful_basis if self.purpose_id else "")

    def applies_to(self, region: str) -> bool:
        return not self.regions or region in self.regions

    def clean(self) -> None:
        """Normalise the JSON lists and refuse unknown categories, regions and safeguards."""
        errors: dict[str, list[str]] = {}
        if not self.lawful_basis and self.purpose_id:
            self.lawful_basis = self.purpose.lawful_basis
        categories = _string_list(self.data_categories, "data_categories", errors)
        unknown = sorted(set(categories) - set(_profiles_data_categories()))
        if unknown:
            errors.setdefault("data_categories", []).append(
                f"Unknown data categories {unknown}; use {_profiles_data_categories()}."
            )
        self.data_categories = sorted(set(categories))
        self.subject_categories = _string_list(
            self.subject_categories, "subject_categories", errors
        )
        self.recipients = _string_list(self.recipients, "recipients", errors)
        regions = [r.upper() for r in _string_list(self.regions, "regions", errors)]
        unknown = sorted(set(regions) - set(_known_regions()))
        if unknown:
            errors.setdefault("regions", []).append(
                f"Unknown regions {unknown}; use {list(_known_regions())}."
            )
        self.regions = sorted(set(regions))
        if not isinstance(self.transfers, list):
            errors["transfers"] = ['Give a list of {"country": ..., "safeguard": ...} objects.']
        cleaned = []
        for item in self.transfers if isinstance(self.transfers, list) else []:
            item = item if isinstance(item, dict) else {}
            country = str(item.get("country", "")).strip().upper()
            if len(country) != 2 or not country.isalpha():
                errors.setdefault("transfers", []).append(
                    'Each transfer needs a two-letter "country" (ISO 3166).'
                )
            elif item.get("safeguard") not in self.TransferSafeguard.values:
                errors.setdefault("transfers", []).append(
                    f'Each transfer needs a "safeguard" among {self.TransferSafeguard.values}.'
                )
            else:
                cleaned.append({"country": country, "safeguard": item["safeguard"]})
        self.transfers = cleaned
        if errors:
            raise ValidationError(errors)


class RetentionPolicy(models.Model):
    """How long one kind of personal data is kept (Art. 5(1)(e) storage limitation), enforced
    daily by `consent.retention_enforce`.

    Events may be deleted or anonymised (payload emptied, time cut to the month, dedup key
    replaced); attributes can only be deleted: an attribute without its value says nothing."""

    class Target(models.TextChoices):
        EVENTS = "events"
        ATTRIBUTES = "attributes"

    class Action(models.TextChoices):
        DELETE = "delete"
        ANONYMISE = "anonymise", "anonymise (events only)"

    name = models.CharField(max_length=150, unique=True)
    target = models.CharField(max_length=10, choices=Target.choices)
    data_category = models.CharField(
        max_length=12, blank=True, help_text="profiles data category; empty = every category"
    )
    event_name = models.CharField(
        max_length=100, blank=True, help_text="events only: exact event name; empty = every name"
    )
    region = models.CharField(max_length=16, blank=True, help_text="empty = every region")
    max_age_days = models.PositiveIntegerField(
        validators=[at_most_days],
        help_text="events by occurrence time, attributes by collection time",
    )
    action = models.CharField(max_length=9, choices=Action.choices, default=Action.DELETE)
    description = models.TextField(blank=True, help_text="why this period (law, contract, need)")
    active = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.data_category and self.data_category not in _profiles_data_categories():
            errors["data_category"] = [f"Use one of {_profiles_data_categories()}."]
        self.region = (self.region or "").strip().upper()
        if self.region and self.region not in _known_regions():
            errors["region"] = [f"Use one of {list(_known_regions())}, or leave empty."]
        if self.target == self.Target.ATTRIBUTES:
            if self.event_name:
                errors["event_name"] = ["Only event policies filter by event name."]
            if self.action != self.Action.DELETE:
                errors["action"] = ["Attributes can only be deleted."]
        if not self.max_age_days:
            errors["max_age_days"] = ["Keep data at least one day."]
        if errors:
            raise ValidationError(errors)


class RetentionRun(models.Model):
    """The readable trail of one policy's run: counts per region (never values), who ran it."""

    policy = models.ForeignKey(RetentionPolicy, on_delete=models.PROTECT, related_name="runs")
    dry_run = models.BooleanField()
    action = models.CharField(max_length=9, choices=RetentionPolicy.Action.choices)
    cutoff = models.DateTimeField(help_text="rows older than this were in scope")
    regions = models.JSONField(
        null=True, blank=True, help_text="regions the runner could reach; null = every region"
    )
    counts = models.JSONField(default=dict, help_text="rows per region")
    actor_label = models.CharField(max_length=150)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        mode = "dry run" if self.dry_run else self.action
        return f"{self.policy} ({mode}) at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def total(self) -> int:
        return sum(self.counts.values())
