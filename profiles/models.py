"""The golden record: subjects, identifiers, attributes, events, and the systems data comes
from or goes to. Personal values are encrypted per subject; exact lookups use blind indexes."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, models, transaction
from guardian.models import UserObjectPermissionBase

from access.scoping import ScopedManager
from core.bulk import any_of
from profiles.crypto import aead
from profiles.crypto.fields import EncryptedFieldMixin, EncryptedJSONField, EncryptedTextField
from profiles.crypto.keyring import DecryptionError, master_keyring


class DataCategory(models.TextChoices):
    IDENTITY = "identity"
    CONTACT = "contact"
    DESCRIPTIVE = "descriptive"
    BEHAVIORAL = "behavioral"
    ATTITUDINAL = "attitudinal"
    SENSITIVE = "sensitive"


class System(models.Model):
    """A system personal data comes from (a source: CRM, web, POS) or goes to (a destination:
    e-mail tool, ad platform), with the data categories it holds: the data map."""

    class Kind(models.TextChoices):
        SOURCE = "source"
        DESTINATION = "destination"
        BOTH = "both"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.SOURCE)
    description = models.TextField(blank=True)
    data_categories = models.JSONField(default=list, blank=True)
    datasets = models.JSONField(
        default=list,
        null=True,  # rows written by code that predates the field (old migrations) hold NULL
        blank=True,
        help_text='[{"name", "categories"}]: the datasets (tables) it holds, each with its '
        "categories (a connected store's approved dataset map)",
    )
    owner_contact = models.CharField(
        max_length=200, blank=True, help_text="team or role, not a person"
    )
    country = models.CharField(
        max_length=2, blank=True, help_text="where the data is stored (ISO 3166)"
    )
    is_processor = models.BooleanField(
        default=False, help_text="operated by a third-party processor"
    )
    scope_regions = models.JSONField(
        null=True,
        blank=True,
        default=None,
        help_text="the regions whose data map this system belongs to (null = every region: set "
        "by staff of every region, by a service, or added before regions were recorded); its "
        "parts only add regions, so a part of fewer regions never hands it to their officers",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CiphertextRefresh:
    """`refresh_from_db` reloads encrypted fields as ciphertext (decrypted on first access, as
    after any query), so refreshing a row whose key was destroyed does not raise."""

    def refresh_from_db(self, using=None, fields=None, from_queryset=None) -> None:
        wanted = [
            f
            for f in self._meta.concrete_fields
            if fields is None or {f.name, f.attname} & set(fields)
        ]
        encrypted = [f.attname for f in wanted if isinstance(f, EncryptedFieldMixin)]
        plain = [f.name for f in wanted if not isinstance(f, EncryptedFieldMixin)]
        if plain:
            super().refresh_from_db(using=using, fields=plain, from_queryset=from_queryset)
        if encrypted:
            raw = type(self)._base_manager.filter(pk=self.pk).values_list(*encrypted).get()
            for attname, value in zip(encrypted, raw, strict=True):
                self.__dict__[attname] = value


# Bumped whenever data keys are destroyed in this process (shred, erasure, merge, archive
# destruction): a key cached before that is never used again, see KeyOwner.data_cipher.
_key_epochs = itertools.count(1)
_key_epoch = 0


def _data_keys_destroyed() -> None:
    """Invalidate every cached key now, and again when the deleting transaction commits: a
    thread that loaded a key after the delete but before the commit (it still saw the row)
    does not keep it past the commit."""
    _bump_key_epoch()
    transaction.on_commit(_bump_key_epoch)


def _bump_key_epoch() -> None:
    global _key_epoch
    _key_epoch = next(_key_epochs)  # a fresh value, never reused: itertools.count is atomic


class _CachedKey(NamedTuple):
    key: bytes
    key_id: uuid.UUID
    cipher: AESGCM
    epoch: int | None  # None: pinned, a key created in bulk whose row is not saved yet


class KeyOwner(CiphertextRefresh):
    """A row that owns a data key (a SubjectKey keyed by its primary key): subjects, and other
    records holding personal values of their own, such as data-subject requests. Destroying the
    key (`SubjectKey` row) makes every ciphertext under it unreadable.

    The unwrapped key and its AES-GCM cipher are cached on the instance, so a unit of work
    (a request, a task, a merge) unwraps each owner's key once, not once per value. Destroying
    any data key in this process invalidates every cached key, so a key cached before a shred
    never decrypts after it; another process's shred is seen at that process's next key load."""

    def encryption_cipher(self, *, create: bool) -> tuple[AESGCM, uuid.UUID]:
        return self.data_cipher(create=create)

    def data_key(self, *, create: bool = False) -> tuple[bytes, uuid.UUID]:
        """This owner's unwrapped data key and its id (cached on the instance).

        Raises DecryptionError when the key was destroyed (crypto-shredding)."""
        cached = self._cached_key(create=create)
        return cached.key, cached.key_id

    def data_cipher(self, *, create: bool = False) -> tuple[AESGCM, uuid.UUID]:
        """The AES-GCM cipher of this owner's data key and the key id (cached on the instance).

        Raises DecryptionError when the key was destroyed (crypto-shredding)."""
        cached = self._cached_key(create=create)
        return cached.cipher, cached.key_id

    def _cached_key(self, *, create: bool) -> _CachedKey:
        cached = self.__dict__.get("_data_key_cache")
        if cached is not None and cached.epoch in (None, _key_epoch):
            return cached
        epoch = _key_epoch  # read before the query: a shred during the load invalidates it
        row = SubjectKey.objects.filter(subject_id=self.pk).first()
        if row is None:
            if not create:
                raise DecryptionError("the data key does not exist (shredded?)")
            row = SubjectKey.create_for(self.pk)
        key = master_keyring().unwrap(
            bytes(row.wrapped_key),
            version=row.master_version,
            context=SubjectKey.context(self.pk, row.key_id),
        )
        cached = _CachedKey(key, row.key_id, aead.cipher(key), epoch)
        self.__dict__["_data_key_cache"] = cached
        return cached

    @classmethod
    def data_keys_load(cls, owners: Iterable[KeyOwner]) -> None:
        """Load and cache the data keys of many owners in one query (bulk writes), as
        `data_cipher` would one by one; an owner whose key was destroyed is left uncached, so
        its first use raises DecryptionError as usual."""
        by_id = {owner.pk: owner for owner in owners}
        epoch = _key_epoch  # read before the query: a shred during the load invalidates it
        for row in SubjectKey.objects.filter(subject_id__in=any_of(by_id)):
            key = master_keyring().unwrap(
                bytes(row.wrapped_key),
                version=row.master_version,
                context=SubjectKey.context(row.subject_id, row.key_id),
            )
            owner = by_id[row.subject_id]
            owner.__dict__["_data_key_cache"] = _CachedKey(key, row.key_id, aead.cipher(key), epoch)

    def remember_data_key(self, key: bytes, key_id: uuid.UUID) -> None:
        """Prime the cache with a key just created in bulk (its row is not saved yet, so it is
        pinned: it cannot have been shredded, and reloading it would find no row)."""
        self.__dict__["_data_key_cache"] = _CachedKey(key, key_id, aead.cipher(key), None)

    def forget_data_key(self) -> None:
        self.__dict__.pop("_data_key_cache", None)


class Subject(KeyOwner, models.Model):
    """A data subject: the golden record's root. Region decides jurisdiction and who may see it."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        MERGED = "merged"
        ERASED = "erased"
        RESTRICTED = "restricted", "Restricted (erased except data kept by law)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    region = models.CharField(max_length=16, help_text="e.g. EU, GB, US-CA, BR, CA")
    jurisdiction = models.CharField(
        max_length=16, blank=True, help_text="Jurisdiction code; empty = derived from region"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_subjects"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager()
    scope_region_field = "region"
    scope_shares = ("profiles.SubjectShare", "pk")

    class Meta:
        ordering = ["-created_at"]
        permissions = [("search_subject", "Can look subjects up by identifier")]
        # Equality indexes only (no pattern-ops twins: nothing searches these by prefix), as
        # every import writes them.
        indexes = [
            models.Index(fields=["region"], name="subject_region"),
            models.Index(fields=["status"], name="subject_status"),
        ]

    def __str__(self) -> str:
        return f"Subject {self.id}"


class SubjectShare(UserObjectPermissionBase):
    """A per-object grant (django-guardian, direct foreign key): one subject shared with one
    staff user for a case, even outside their regions, until it expires."""

    content_object = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="shares")
    reason = models.CharField(max_length=500)
    granted_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False

    def __str__(self) -> str:
        return f"{self.content_object_id} shared with {self.user_id}"


class SubjectKeyQuerySet(models.QuerySet):
    def delete(self) -> tuple[int, dict[str, int]]:
        try:
            return super().delete()
        finally:
            _data_keys_destroyed()


class SubjectKey(models.Model):
    """The subject's data key, wrapped by a master key version. Deleting it shreds the subject
    (and invalidates every data key cached in this process)."""

    subject_id = models.UUIDField(unique=True)
    key_id = models.UUIDField(default=uuid.uuid4, editable=False)
    wrapped_key = models.BinaryField()
    master_version = models.PositiveIntegerField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    objects = SubjectKeyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"key of {self.subject_id} (master v{self.master_version})"

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        try:
            return super().delete(*args, **kwargs)
        finally:
            _data_keys_destroyed()

    @staticmethod
    def context(subject_id: Any, key_id: Any) -> bytes:
        return f"custodia|subject-key|{subject_id}|{key_id}".encode()

    @classmethod
    def build_for(cls, subject_id: Any) -> tuple[SubjectKey, bytes]:
        """A new, unsaved key row for `subject_id` and the raw key it wraps (bulk creation)."""
        key = os.urandom(32)
        key_id = uuid.uuid4()
        wrapped, version = master_keyring().wrap(key, context=cls.context(subject_id, key_id))
        row = cls(subject_id=subject_id, key_id=key_id, wrapped_key=wrapped, master_version=version)
        return row, key

    @classmethod
    def create_for(cls, subject_id: Any) -> SubjectKey:
        row, _ = cls.build_for(subject_id)
        try:
            with transaction.atomic():
                row.save(force_insert=True)
                return row
        except IntegrityError:
            return cls.objects.get(subject_id=subject_id)  # a concurrent writer created it


class SubjectOwned(CiphertextRefresh, models.Model):
    """Rows holding a subject's encrypted values; the subject's data key encrypts them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scope_region_field = "subject__region"
    scope_shares = ("profiles.SubjectShare", "subject_id")

    class Meta:
        abstract = True

    def encryption_cipher(self, *, create: bool) -> tuple[AESGCM, uuid.UUID]:
        return self.subject.data_cipher(create=create)


class Identifier(SubjectOwned):
    """A way to recognise the subject: e-mail, phone, customer id, device id."""

    class Kind(models.TextChoices):
        EMAIL = "email"
        PHONE = "phone"
        CUSTOMER_ID = "customer_id"
        DEVICE_ID = "device_id"

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = EncryptedTextField()
    value_index = models.CharField(
        max_length=64, help_text="blind index (HMAC) of the normalized value"
    )
    region = models.CharField(
        max_length=16,
        help_text="the subject's region, kept equal to it (merges, region changes): an identity "
        "is unique per region, so a subject in one region never collides with, and is never "
        "matched to, a subject of another region",
    )
    source = models.ForeignKey(System, null=True, blank=True, on_delete=models.SET_NULL)
    verified = models.BooleanField(default=False)
    confidence = models.FloatField(default=1.0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value_index", "region"], name="identifier_unique_per_region"
            )
        ]
        ordering = ["kind", "created_at"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.subject_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.region:
            self.region = self.subject.region  # the identity's region is its subject's
        super().save(*args, **kwargs)


class Attribute(SubjectOwned):
    """What we know: one value per key and subject (the golden record), with its provenance."""

    subject = models.ForeignKey(
        Subject, on_delete=models.CASCADE, related_name="attributes", db_index=False
    )
    key = models.SlugField(max_length=64, db_index=False)
    value = EncryptedTextField()
    category = models.CharField(max_length=12, choices=DataCategory.choices)
    source = models.ForeignKey(System, null=True, blank=True, on_delete=models.SET_NULL)
    collected_at = models.DateTimeField()

    objects = ScopedManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "key"], name="attribute_unique")]
        # A subject's attributes are read through the unique (subject, key) index; the key's
        # own index serves retention and exports by key, without a pattern-ops twin.
        indexes = [models.Index(fields=["key"], name="attribute_key")]
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} of {self.subject_id}"


class Event(SubjectOwned):
    """What the subject did: a name and a schemaless JSON payload (encrypted)."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=100)
    payload = EncryptedJSONField(default=dict)
    category = models.CharField(
        max_length=12, choices=DataCategory.choices, default=DataCategory.BEHAVIORAL
    )
    source = models.ForeignKey(System, null=True, blank=True, on_delete=models.SET_NULL)
    occurred_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    dedup_key = models.CharField(
        max_length=64,
        help_text="keyed hash of name, time and payload: "
        "the same event sent twice (a retried import) is stored once",
    )

    objects = ScopedManager()

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["subject", "occurred_at"])]
        constraints = [models.UniqueConstraint(fields=["subject", "dedup_key"], name="event_dedup")]

    def __str__(self) -> str:
        return f"{self.name} of {self.subject_id}"


class SuppressedIdentity(models.Model):
    """Blind indexes of erased identities: a later import of the same identity is refused."""

    kind = models.CharField(max_length=16)
    value_index = models.CharField(max_length=64)
    suppressed_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=40, default="erasure")

    class Meta:
        verbose_name_plural = "suppressed identities"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value_index"], name="suppression_unique")
        ]

    def __str__(self) -> str:
        return f"suppressed {self.kind}"


class MergeLineage(models.Model):
    """Which record was merged into which, when, why and from which source (kept forever)."""

    survivor = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="lineage")
    merged_subject_id = models.UUIDField(db_index=True)
    method = models.CharField(max_length=16)  # deterministic / probabilistic / review / manual
    confidence = models.FloatField()
    signals = models.JSONField(default=list, help_text="names of the signals that matched")
    source = models.ForeignKey(System, null=True, blank=True, on_delete=models.SET_NULL)
    merged_by = models.CharField(max_length=150)
    merged_at = models.DateTimeField(auto_now_add=True)
    model_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="the match model that scored the pair (probabilistic)"
    )
    weight = models.FloatField(null=True, blank=True, help_text="match weight (log2 odds)")
    explanation = models.JSONField(
        default=list, blank=True, help_text="comparison levels and their weights"
    )
    moved_rows = models.JSONField(
        default=dict,
        blank=True,
        help_text="ids of the identifier, attribute and event rows that came from the merged "
        "subject (what a split gives back)",
    )
    split_at = models.DateTimeField(null=True, blank=True)
    split_into = models.UUIDField(
        null=True, blank=True, help_text="the subject re-created from the merged rows on a split"
    )
    split_by = models.CharField(max_length=150, blank=True)

    scope_region_field = "survivor__region"
    objects = ScopedManager()

    class Meta:
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"{self.merged_subject_id} -> {self.survivor_id}"


class MatchReview(models.Model):
    """A probable duplicate between the review and auto-merge thresholds, for an officer."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REJECTED = "rejected"

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="match_reviews")
    candidate = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    signals = models.JSONField(default=list)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    weight = models.FloatField(null=True, blank=True, help_text="match weight (log2 odds)")
    levels = models.JSONField(
        default=list, blank=True, help_text="comparison vector (level index per field)"
    )
    explanation = models.JSONField(
        default=list, blank=True, help_text="comparison levels and their weights"
    )

    # A review across regions is for an officer whose regions cover both subjects.
    scope_region_field = ("subject__region", "candidate__region")
    objects = ScopedManager()

    class Meta:
        ordering = ["-score", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "candidate"], name="match_review_unique")
        ]

    def __str__(self) -> str:
        return f"match {self.subject_id} ~ {self.candidate_id} ({self.score:.2f})"


class MatchProfile(models.Model):
    """A subject's keyed matching encodings (exact, phonetic and Bloom-filter HMACs; no
    plaintext), computed at write time; see profiles.matching.encoding."""

    subject = models.OneToOneField(
        Subject, primary_key=True, on_delete=models.CASCADE, related_name="match_profile"
    )
    encodings = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"match profile of {self.subject_id}"


class MatchBlock(models.Model):
    """One keyed blocking key of a subject: candidates are the subjects sharing a key.

    Two indexes only (every import writes ten rows per subject): (subject, key), unique, for a
    subject's keys; (key, subject) for a key's members, read from the index alone. Derived
    rows, like a search index: no foreign-key constraint in the database (ten checks per
    subject at each import's commit); merges and erasures drop a subject's blocks themselves
    (`match_profile_drop`), deleting a subject cascades in Django, and candidates are read
    through their match profile and active subject, never through a block alone."""

    subject = models.ForeignKey(
        Subject,
        on_delete=models.CASCADE,
        related_name="match_blocks",
        db_index=False,
        db_constraint=False,
    )
    key = models.CharField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "key"], name="match_block_unique")
        ]
        indexes = [models.Index(fields=["key", "subject"], name="match_block_members")]

    def __str__(self) -> str:
        return f"block of {self.subject_id}"


class MatchModel(models.Model):
    """A version of the Fellegi-Sunter model: m, u, prior and thresholds, how it was estimated
    and evaluated. The newest version scores new pairs; every version is kept."""

    version = models.PositiveIntegerField(unique=True)
    parameters = models.JSONField()
    evaluation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"match model v{self.version}"


class ImportJob(models.Model):
    """An NDJSON bulk import run by a worker; the file lives encrypted-at-rest on disk only
    until the import finishes; per-line errors carry line numbers and reasons, never values."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    source = models.ForeignKey(System, null=True, blank=True, on_delete=models.SET_NULL)
    region = models.CharField(
        max_length=16, blank=True, help_text="default region for lines without one"
    )
    regions = models.JSONField(
        null=True,
        default=list,
        blank=True,
        help_text="the creator's region scope, applied to every line (null = every region)",
    )
    file_name = models.CharField(max_length=255)
    lines_total = models.PositiveIntegerField(default=0)
    lines_done = models.PositiveIntegerField(default=0, help_text="resume point")
    imported = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.id} ({self.status})"


class ImportLineError(models.Model):
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="errors")
    line = models.PositiveIntegerField()
    code = models.CharField(max_length=40)
    message = models.CharField(max_length=300)

    class Meta:
        ordering = ["line"]
        constraints = [models.UniqueConstraint(fields=["job", "line"], name="import_error_unique")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}"


class IngestionRequest(models.Model):
    """Idempotency record of a batch upsert: same key + same body = same answer, once, and
    only to a caller who still sees every region the answer was given in (`regions`)."""

    key = models.CharField(max_length=100)
    caller = models.CharField(max_length=64)
    body_hash = models.CharField(max_length=64)
    response = models.JSONField()
    # The caller's regions when the answer was made, sorted; null = every region (and the
    # rows stored before the column, whose scope is unknown: replayed to all-region callers).
    regions = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="ingestion_idempotency")
        ]

    def __str__(self) -> str:
        return self.key
