"""Data-subject requests: the request, its pipeline steps, the connected systems it reaches,
its timeline, the access archive it produces, and the legal holds that can block an erasure.

Personal values a request carries (the requester's contact address, free-text details, the
identifiers sent to connected systems) are encrypted under the request's own data key, which
is destroyed when the request's record is purged; the proof (who, what, when, outcome) stays.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from guardian.models import UserObjectPermissionBase

from access.scoping import ScopedManager
from core.periods import at_most_days, at_most_hours
from dsar import deadlines
from profiles.crypto.fields import EncryptedJSONField, EncryptedTextField
from profiles.models import KeyOwner, Subject, System


class DataSubjectRequest(KeyOwner, models.Model):
    class Kind(models.TextChoices):
        ACCESS = "access", "Access (Art. 15, CCPA right to know)"
        PORTABILITY = "portability", "Portability (Art. 20)"
        ERASURE = "erasure", "Erasure (Art. 17, CCPA deletion)"
        RECTIFICATION = "rectification", "Rectification (Art. 16, CPRA correction)"
        RESTRICTION = "restriction", "Restriction of processing (Art. 18)"
        OBJECTION = "objection", "Objection (Art. 21)"
        OPT_OUT = "opt_out", "Opt-out of sale/sharing (CCPA §1798.120)"

    class Status(models.TextChoices):
        VERIFYING = "verifying", "Awaiting identity verification"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting an officer's approval"
        IN_PROGRESS = "in_progress", "In progress"
        AWAITING_EXTERNAL = "awaiting_external", "Awaiting connected systems"
        COMPLETED = "completed", "Completed"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired (never verified)"

    class Channel(models.TextChoices):
        PRIVACY_CENTER = "privacy_center"
        API = "api"
        ADMIN = "admin"

    class Verification(models.TextChoices):
        NONE = "", "Not verified"
        EMAIL_CODE = "email_code", "E-mail address confirmed with a mailed code"
        OFFICER = "officer", "Officer's attestation"
        SERVICE = "service", "Verified by the calling service"

    OPEN = (
        Status.VERIFYING,
        Status.AWAITING_APPROVAL,
        Status.IN_PROGRESS,
        Status.AWAITING_EXTERNAL,
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(max_length=16, unique=True, help_text="shown to the requester")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.VERIFYING, db_index=True
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    subject = models.ForeignKey(
        Subject, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    region = models.CharField(max_length=16, db_index=True)
    jurisdiction = models.CharField(max_length=16)
    contact_email = EncryptedTextField(blank=True)
    contact_index = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="blind index of the contact e-mail"
    )
    details = EncryptedJSONField(
        default=dict, blank=True, help_text="requester's description, corrections, purposes"
    )
    verification = models.CharField(
        max_length=12, choices=Verification.choices, blank=True, default=""
    )
    verification_code_hash = models.CharField(max_length=64, blank=True)
    verification_attempts = models.PositiveSmallIntegerField(default=0)
    verification_expires_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(db_index=True)
    due_at = models.DateTimeField(db_index=True)
    extended_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.CharField(max_length=500, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=150, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=500, blank=True, help_text="reason for a rejection, or what was done"
    )
    result = models.JSONField(default=dict, blank=True, help_text="PII-free summary of effects")
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_requests",
    )
    created_by = models.CharField(max_length=150)
    intake_property = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="id of the consent property whose privacy center took the request: only "
        "its key confirms it (null: not from a privacy center, or opened before the check)",
    )
    scope_regions = models.JSONField(
        null=True,
        blank=True,
        default=None,
        help_text="regions of the staff member or token that opened the request (null = every "
        "region: the person themselves, or a system): the pipeline never finds, moves to or "
        "acts on a subject outside them",
    )
    last_reminder_at = models.DateTimeField(null=True, blank=True)
    retained_until = models.DateTimeField(
        null=True, blank=True, help_text="erasure narrowed by a retention exception until then"
    )
    retained_erased_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(
        null=True, blank=True, help_text="contact details destroyed; the proof remains"
    )

    objects = ScopedManager()
    scope_region_field = "region"
    scope_shares = ("dsar.RequestAssignment", "pk")
    scope_share_actions = ("view", "change")  # an assigned officer works on the request

    class Meta:
        ordering = ["due_at"]
        verbose_name = "data-subject request"
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"{self.reference} ({self.get_kind_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class RequestAssignment(UserObjectPermissionBase):
    """A request assigned to one officer: a django-guardian per-object grant on a direct foreign
    key (it lets an officer outside the request's regions work on it until it expires)."""

    content_object = models.ForeignKey(
        DataSubjectRequest, on_delete=models.CASCADE, related_name="assignments"
    )
    assigned_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False

    def __str__(self) -> str:
        return f"{self.content_object_id} -> {self.user_id}"


class RequestStep(models.Model):
    """One step of a request's pipeline. Its state lives here, not in the broker: a worker
    claims it with a lease (compare-and-set), and a beat sweeper re-enqueues steps whose
    lease ran out (a killed worker) or that were never picked up (a lost message)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        WAITING = "waiting", "Waiting for connected systems"
        DONE = "done"
        FAILED = "failed"

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=16)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="PII-free")
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["request", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "name"], name="request_step_unique")
        ]

    def __str__(self) -> str:
        return f"{self.request_id}:{self.name} ({self.status})"


def connector_secret() -> str:
    """A fresh shared secret for a connected system (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class SystemConnector(models.Model):
    """How a connected system takes part in requests: a signed webhook it answers with a
    signed callback, or a manual task an officer closes with evidence."""

    class Mode(models.TextChoices):
        WEBHOOK = "webhook"
        MANUAL = "manual"

    system = models.OneToOneField(System, on_delete=models.CASCADE, related_name="dsar_connector")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.WEBHOOK)
    webhook_url = models.URLField(blank=True)
    secret = models.CharField(
        max_length=128,
        default=connector_secret,
        editable=False,
        help_text="HMAC secret shared with the system: generated, shown once, rotatable",
    )
    handles = models.JSONField(
        default=list,
        blank=True,
        help_text="request kinds this system takes part in (empty = access and erasure)",
    )
    instructions = models.TextField(blank=True, help_text="for manual systems: what to do")
    timeout_seconds = models.PositiveIntegerField(default=10)
    callback_timeout_hours = models.PositiveIntegerField(
        default=72,
        validators=[at_most_hours],
        help_text="no callback within this time: the task fails and an officer is told",
    )
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            # An HMAC under an empty key is forgeable by anyone.
            models.CheckConstraint(
                condition=~models.Q(secret=""), name="systemconnector_secret_not_empty"
            )
        ]

    def __str__(self) -> str:
        return f"{self.system.name} ({self.mode})"


class SystemTask(KeyOwner, models.Model):
    """One request's work in one connected system (deliveries are at-least-once: the task id is
    the idempotency key the system uses to ignore repeats)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent", "Sent, awaiting callback"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(
        DataSubjectRequest, on_delete=models.CASCADE, related_name="system_tasks"
    )
    connector = models.ForeignKey(SystemConnector, on_delete=models.PROTECT, related_name="tasks")
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    payload = EncryptedJSONField(default=dict, help_text="identifiers the system needs")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.CharField(max_length=150, blank=True)
    evidence = models.CharField(
        max_length=500, blank=True, help_text="system's confirmation or officer's evidence"
    )
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["request", "connector"], name="system_task_unique")
        ]

    def __str__(self) -> str:
        return f"{self.request_id} @ {self.connector_id} ({self.status})"


class TimelineEntry(KeyOwner, models.Model):
    """What happened to a request, in order: status changes, steps, notes, system callbacks.
    Officers' notes may hold personal details, so they are encrypted under the entry's key;
    most lines have no note, and an empty note is stored empty, with no key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(
        DataSubjectRequest, on_delete=models.CASCADE, related_name="timeline"
    )
    at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150)
    kind = models.CharField(max_length=16)  # status, step, note, system, mail, decision
    message = models.CharField(max_length=300, help_text="PII-free")
    note = EncryptedTextField(blank=True, empty_unkeyed=True)

    class Meta:
        ordering = ["at"]
        verbose_name_plural = "timeline"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}: {self.message}"


class ExportArchive(KeyOwner, models.Model):
    """The access/portability archive: a ZIP of JSON + CSV, AES-256-GCM encrypted under the
    archive's own data key, held in the database (so web and workers on different machines see
    it) until downloaded or expired; then bytes and key are destroyed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.OneToOneField(
        DataSubjectRequest, on_delete=models.CASCADE, related_name="archive"
    )
    # Format 1 (archives stored before chunking): the whole ZIP as one AES-GCM blob here.
    ciphertext = models.BinaryField(null=True)
    chunk_count = models.PositiveIntegerField(
        default=0, help_text="encrypted chunks (format 2); 0: one blob in ciphertext (format 1)"
    )
    size = models.PositiveIntegerField(default=0, help_text="plaintext bytes")
    sha256 = models.CharField(max_length=64, help_text="of the plaintext ZIP")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"archive of {self.request_id}"


class ExportArchiveChunk(models.Model):
    """One piece of an archive's ZIP, AES-256-GCM encrypted under the archive's data key with
    its index and whether it is the last in the associated data: chunks cannot be swapped,
    reordered, dropped or cut off undetected. Written while the ZIP is built, read one at a
    time while it is downloaded."""

    archive = models.ForeignKey(ExportArchive, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    ciphertext = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["archive", "index"], name="dsar_archive_chunk_index")
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.archive_id}"


class LegalHold(models.Model):
    """Data that must be kept (litigation, investigation, statutory retention): blocks the
    erasure of a subject while active (Art. 17(3)(b) and (e), CCPA §1798.105(d))."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="legal_holds")
    reason = models.CharField(max_length=300)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()
    scope_region_field = "subject__region"

    def __str__(self) -> str:
        return f"hold on {self.subject_id}"


class RetentionException(models.Model):
    """A category of data that an erasure keeps for a legal reason (for example invoices under
    tax law): events whose name starts with `event_prefix` are kept, restricted, until
    `keep_days` after they occurred; the rest of the subject is erased."""

    event_prefix = models.CharField(max_length=100, help_text="e.g. 'order.' keeps order events")
    regions = models.JSONField(default=list, blank=True, help_text="empty = every region")
    reason = models.CharField(max_length=300, help_text="the legal basis, e.g. 'tax law: 10 y'")
    keep_days = models.PositiveIntegerField(validators=[at_most_days])
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"keep {self.event_prefix}* {deadlines.period(self.keep_days)}"
