"""Sources push in, destinations receive: a source's webhook endpoint (its signing secrets,
region scope, rate) and the inbox of payloads it sent, stored encrypted until processed.

The inbox row owns its data key (KeyOwner): the payload is personal data from the moment it is
accepted, and a dead-lettered payload stays readable only to an officer, masked."""

from __future__ import annotations

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.db import models

from access.scoping import ScopedManager
from profiles.crypto.fields import EncryptedJSONField
from profiles.models import KeyOwner, System


def source_secret() -> str:
    """A fresh signing secret for a source (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class SourceEndpoint(models.Model):
    """The inbound webhook of one source system: POST /api/v1/sources/<id>/events/, signed
    `Custodia-Signature: t=<unix>,v1=<hmac-sha256 of "<t>.<body>">` with its secret."""

    class Format(models.TextChoices):
        SEGMENT = "segment", "Segment spec (identify, track, page, alias)"
        CUSTOM = "custom", "Custom mapping (paths of the source's own JSON)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    system = models.OneToOneField(
        System,
        on_delete=models.CASCADE,
        related_name="source_endpoint",
        limit_choices_to={"kind__in": ["source", "both"]},
    )
    secret = models.CharField(
        max_length=64,
        default=source_secret,
        editable=False,
        help_text="HMAC secret shared with the source: generated, shown once, rotatable",
    )
    previous_secret = models.CharField(max_length=64, blank=True, editable=False)
    previous_valid_until = models.DateTimeField(null=True, blank=True, editable=False)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.SEGMENT)
    mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="custom format only: payload paths to identifiers, attributes and events "
        "(see activation/mapping.py and docs/sources-and-destinations.md)",
    )
    regions = models.JSONField(
        default=list, help_text="regions this source may write (its scope); the first is default"
    )
    tolerance_seconds = models.PositiveIntegerField(
        default=300, help_text="how old a signed timestamp may be"
    )
    rate = models.CharField(max_length=20, default="600/min", help_text="N/second|minute|hour")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(secret=""), name="sourceendpoint_secret_not_empty"
            )
        ]

    def __str__(self) -> str:
        return f"{self.system.name} (inbound)"

    def clean(self) -> None:
        from activation.mapping import mapping_errors

        if self.format == self.Format.CUSTOM:
            errors = mapping_errors(self.mapping)
            if errors:
                raise ValidationError({"mapping": errors})

    @property
    def default_region(self) -> str:
        return str(self.regions[0]).upper() if self.regions else ""


class InboxMessage(KeyOwner, models.Model):
    """One accepted payload from a source, processed by a worker that claims pending messages
    in batches under a lease (no task per message: the broker carries one coalesced wake-up).
    Unique per (source, message id): a repeated delivery is answered without a second row."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        DEAD = "dead", "Dead letter"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: the unique (source, message_id) index starts with it.
    source = models.ForeignKey(
        SourceEndpoint, on_delete=models.CASCADE, related_name="inbox", db_index=False
    )
    message_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, help_text="identify, track, page, alias")
    region = models.CharField(max_length=16, db_index=True, help_text="the source's region")
    payload = EncryptedJSONField(default=dict)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="a worker's lease on this pending message (after it, another worker takes it)",
    )
    last_error = models.CharField(max_length=200, blank=True, help_text="PII-free")
    subject_id = models.UUIDField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager()
    scope_region_field = "region"

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="inbox_message_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.message_id} ({self.status})"


class Destination(models.Model):
    """A destination system bound to the purposes it serves: it may receive exactly the people
    whose current consent allows every one of them. Pulled with its own API token."""

    system = models.OneToOneField(
        System,
        on_delete=models.CASCADE,
        related_name="destination",
        limit_choices_to={"kind__in": ["destination", "both"]},
    )
    purposes = models.ManyToManyField("consent.Purpose", related_name="+")
    token = models.ForeignKey(
        "access.ApiToken",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the API token (scope destinations:read) this destination pulls with",
    )
    push_webhook = models.ForeignKey(
        "consent.ConsentWebhook",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"consent_changes": False},
        help_text="where added/removed changes are pushed (signed, retried by the outbox)",
    )
    clear_identifiers = models.BooleanField(
        default=False,
        help_text="send e-mail and phone in clear (else SHA-256 of the normalized value)",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [
            ("export_audience", "Can export the people whose consent allows a purpose"),
        ]

    def __str__(self) -> str:
        return self.system.name


class AudienceMember(models.Model):
    """Who the destination was last told it may use (the base of the changes feed)."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="members")
    subject_id = models.UUIDField()
    region = models.CharField(max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "subject_id"], name="audience_member_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} @ {self.destination_id}"


class AudienceChange(models.Model):
    """One person added to or removed from a destination's audience; its id is the cursor of
    the changes feed (`?since=<id>`). Ids and regions only. The changes of one sync form a
    batch (`batch_end`), in which a person is added or removed at most once."""

    class Change(models.TextChoices):
        ADDED = "added"
        REMOVED = "removed"

    id = models.BigAutoField(primary_key=True)
    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="changes")
    subject_id = models.UUIDField()
    region = models.CharField(max_length=16, db_index=True)
    change = models.CharField(max_length=7, choices=Change.choices)
    at = models.DateTimeField(auto_now_add=True)
    # The id of the last change written by the same sync: an answer of `?since=` never spans
    # two syncs, so a retried GET with the same cursor gets the same changes.
    batch_end = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.change} {self.subject_id} @ {self.destination_id}"
