"""Connected SQL stores: the company's own databases the DSAR pipeline reaches directly.

A store holds connection settings (passwords encrypted under the store's own data key, so
they follow the hub's keyring and rotation), the dataset map discovery proposed and an officer
approved (one dataset per table, one row per column: category, identity key, erasure strategy),
and per request one task recording what was done in that store.

Discovery keeps counts and a confidence per column, never a sampled value.
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models

from access.scoping import ScopedManager
from consent.models import ProcessingActivity
from profiles.crypto.fields import EncryptedJSONField, EncryptedTextField
from profiles.models import KeyOwner, System

CATEGORIES = [
    ("identity", "Identity"),
    ("contact", "Contact"),
    ("descriptive", "Descriptive"),
    ("behavioral", "Behavioral"),
    ("financial", "Financial"),
    ("sensitive", "Sensitive"),
]


def hash_key() -> str:
    """A fresh key for the keyed-hash strategy (256 bits)."""
    return secrets.token_hex(32)


class ConnectedStore(KeyOwner, models.Model):
    """A PostgreSQL, MySQL/MariaDB or SQLite database reached with SQLAlchemy. The read
    credentials serve discovery and access requests, the write credentials erasures."""

    class Dialect(models.TextChoices):
        POSTGRESQL = "postgresql", "PostgreSQL"
        MYSQL = "mysql", "MySQL / MariaDB"
        SQLITE = "sqlite", "SQLite"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    system = models.OneToOneField(
        System,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="connected_store",
        help_text="its entry in the data map (created on first approval if empty)",
    )
    activities = models.ManyToManyField(
        ProcessingActivity,
        blank=True,
        related_name="connected_stores",
        help_text="activities of the Art. 30 record this store serves",
    )
    dialect = models.CharField(max_length=12, choices=Dialect.choices)
    host = models.CharField(max_length=200, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    database = models.CharField(
        max_length=500, help_text="database name, or the file path of a SQLite database"
    )
    read_user = models.CharField(max_length=100, blank=True)
    read_password = EncryptedTextField(blank=True)
    write_user = models.CharField(max_length=100, blank=True)
    write_password = EncryptedTextField(blank=True)
    hash_key = EncryptedTextField(default=hash_key, editable=False)
    timeout_seconds = models.PositiveIntegerField(
        default=10, help_text="connect and statement timeout"
    )
    table_prefix = models.CharField(
        max_length=60, blank=True, help_text="only tables whose name starts with this"
    )
    active = models.BooleanField(default=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_result = models.CharField(max_length=200, blank=True)
    last_discovery_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_dialect_display()})"


class StoreDataset(models.Model):
    """One table of a store as discovery proposed it and an officer approved it."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed by discovery"
        APPROVED = "approved"
        IGNORED = "ignored", "Ignored (no personal data)"

    store = models.ForeignKey(ConnectedStore, on_delete=models.CASCADE, related_name="datasets")
    table = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    primary_key = models.JSONField(default=list, blank=True)
    foreign_keys = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"columns": [...], "table", "references": [...]}], one or more columns each',
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=150, blank=True)
    discovered_at = models.DateTimeField()

    class Meta:
        ordering = ["store", "table"]
        constraints = [
            models.UniqueConstraint(fields=["store", "table"], name="store_dataset_unique")
        ]

    def __str__(self) -> str:
        return f"{self.store.name}.{self.table}"

    @property
    def categories(self) -> list[str]:
        return sorted({c.category for c in self.columns.all() if c.category})


class StoreColumn(models.Model):
    """A column's proposed (then approved) handling. `sampled`/`matched` count the values
    discovery looked at in memory; the values themselves are never kept."""

    class Kind(models.TextChoices):
        TEXT = "text"
        NUMBER = "number"
        DATE = "date"
        DATETIME = "datetime"
        JSON = "json", "JSON"
        BOOL = "bool", "Boolean"
        BINARY = "binary"
        OTHER = "other"

    class Strategy(models.TextChoices):
        KEEP = "keep", "Keep"
        DELETE_ROW = "delete_row", "Delete the row"
        SET_NULL = "set_null", "Set to NULL"
        MASK = "mask", "Mask (by type)"
        HASH = "hash", "Keyed hash"

    dataset = models.ForeignKey(StoreDataset, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=200)
    sql_type = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    nullable = models.BooleanField(default=True)
    unique = models.BooleanField(default=False)
    max_length = models.PositiveIntegerField(null=True, blank=True)
    category = models.CharField(max_length=12, choices=CATEGORIES, blank=True)
    identity_kind = models.CharField(
        max_length=30,
        blank=True,
        help_text="identifier kind this column holds (email, phone, customer_id): a lookup key",
    )
    strategy = models.CharField(max_length=10, choices=Strategy.choices, default=Strategy.KEEP)
    confidence = models.FloatField(default=0.0)
    sampled = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    reason = models.CharField(max_length=100, blank=True, help_text="name, values, or both")
    is_new = models.BooleanField(
        default=False, help_text="found by a later discovery run, not yet reviewed"
    )

    class Meta:
        ordering = ["dataset", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="store_column_unique")
        ]

    def __str__(self) -> str:
        return f"{self.dataset.table}.{self.name}"


class StoreTask(KeyOwner, models.Model):
    """One request's work in one store. The identifiers and the exported rows are encrypted
    under the task's own key, destroyed once the archive holds them."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed", "Failed, will retry"
        MANUAL = "manual", "Awaiting an officer (correct by hand)"
        EXCEPTED = "excepted", "Closed with a recorded exception"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request_id = models.UUIDField(db_index=True, help_text="the data-subject request")
    request_reference = models.CharField(max_length=16)
    region = models.CharField(max_length=16, db_index=True)
    kind = models.CharField(
        max_length=16, help_text="access, portability, erasure or rectification"
    )
    store = models.ForeignKey(ConnectedStore, on_delete=models.PROTECT, related_name="tasks")
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    identifiers = EncryptedJSONField(default=list)
    export = EncryptedJSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True, help_text="PII-free")
    result = models.JSONField(default=dict, blank=True, help_text="PII-free counts")
    exception_reason = models.CharField(max_length=300, blank=True)
    evidence = models.CharField(
        max_length=300,
        blank=True,
        help_text="for a rectification: how the rows listed were corrected (no personal data)",
    )
    closed_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager()
    scope_region_field = "region"

    class Meta:
        ordering = ["request_reference", "store__name"]
        constraints = [
            models.UniqueConstraint(fields=["request_id", "store"], name="store_task_unique")
        ]

    def __str__(self) -> str:
        return f"{self.request_reference} @ {self.store.name} ({self.status})"
