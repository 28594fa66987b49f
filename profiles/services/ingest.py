"""Ingest into the golden record: parse a record, upsert one subject (deterministic matching,
then probabilistic resolution), create many at once for bulk imports. Transactional, audited
with field names, never values; a record for another region is refused."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.actors import Actor
from audit.services import audit_record_many, audit_subject_action
from core.errors import DomainError
from core.regions import KNOWN_REGIONS
from profiles import matching
from profiles.crypto.blind_index import IDENTIFIER_KINDS, blind_index, normalize
from profiles.models import (
    Attribute,
    DataCategory,
    Event,
    Identifier,
    MatchBlock,
    MatchProfile,
    Subject,
    SubjectKey,
    SuppressedIdentity,
    System,
)
from profiles.services import matching as matching_service
from profiles.services.guards import region_check
from profiles.services.identity import (
    resolve_probabilistically,
    review_across_regions,
    subjects_merge,
)

SUPPRESSED_MESSAGE = "This identity was erased and is suppressed; it cannot be re-imported."


class IdentitySuppressed(DomainError):
    code = "identity_suppressed"
    status = 409


@dataclass
class UpsertResult:
    subject_id: uuid.UUID
    created: bool
    merged: list[uuid.UUID] = field(default_factory=list)
    review_items: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject_id": str(self.subject_id),
            "created": self.created,
            "merged": [str(m) for m in self.merged],
            "review_items": self.review_items,
        }


@dataclass
class ParsedRecord:
    region: str
    identifiers: list[tuple[str, str, str, bool]]  # kind, normalized, index, verified
    attributes: list[tuple[str, str, str]]  # key, value, category
    events: list[tuple[str, Any, dt.datetime]]


def _bad(message: str, field_name: str) -> DomainError:
    return DomainError(message, code="invalid", fields={field_name: [message]})


def parse_record(record: Any, *, default_region: str = "") -> ParsedRecord:
    """Validate one incoming profile record. Errors name fields, never quote values."""
    if not isinstance(record, dict):
        raise _bad("A record must be a JSON object.", "record")
    region = str(record.get("region") or default_region or "").upper()
    if region not in KNOWN_REGIONS:
        raise _bad(f"Unknown or missing region; use one of {', '.join(KNOWN_REGIONS)}.", "region")
    identifiers = []
    raw_identifiers = record.get("identifiers") or []
    if not isinstance(raw_identifiers, list) or not raw_identifiers:
        raise _bad("At least one identifier is required.", "identifiers")
    for item in raw_identifiers:
        if not isinstance(item, dict) or item.get("kind") not in IDENTIFIER_KINDS:
            raise _bad(
                f"Identifier kind must be one of {', '.join(IDENTIFIER_KINDS)}.", "identifiers"
            )
        value = item.get("value")
        if not isinstance(value, str):
            raise _bad("Identifier value must be a string.", "identifiers")
        kind = item["kind"]
        normalized = normalize(kind, value, default_region=region)
        identifiers.append(
            (kind, normalized, blind_index(kind, normalized), bool(item.get("verified")))
        )
    attributes = []
    raw_attributes = record.get("attributes") or {}
    if isinstance(raw_attributes, dict):
        raw_attributes = [{"key": k, "value": v} for k, v in raw_attributes.items()]
    if not isinstance(raw_attributes, list):
        raise _bad("Attributes must be an object or a list.", "attributes")
    for item in raw_attributes:
        key = str(item.get("key", "")) if isinstance(item, dict) else ""
        if not key or not key.replace("_", "").isalnum() or len(key) > 64:
            raise _bad("Attribute keys are short slugs (letters, digits, _).", "attributes")
        category = item.get("category") or default_category(key)
        if category not in DataCategory.values:
            raise _bad(
                f"Attribute category must be one of {', '.join(DataCategory.values)}.", "attributes"
            )
        value = item.get("value")
        if value is None or isinstance(value, (dict, list)):
            raise _bad("Attribute values are strings, numbers or booleans.", "attributes")
        attributes.append((key, str(value), category))
    events = []
    raw_events = record.get("events") or []
    if not isinstance(raw_events, list):
        raise _bad("Events must be a list.", "events")
    for item in raw_events:
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            raise _bad("Each event needs a name.", "events")
        occurred = item.get("occurred_at")
        when = parse_datetime(occurred) if isinstance(occurred, str) else None
        if occurred is not None and when is None:
            raise _bad("occurred_at must be an ISO 8601 date-time.", "events")
        if when is not None and timezone.is_naive(when):
            when = timezone.make_aware(when, dt.UTC)
        payload = item.get("payload", {})
        if not isinstance(payload, (dict, list)):
            raise _bad("Event payload must be a JSON object or array.", "events")
        events.append((str(item["name"])[:100], payload, when or timezone.now()))
    return ParsedRecord(
        region=region, identifiers=identifiers, attributes=attributes, events=events
    )


def default_category(key: str) -> str:
    if key in ("name", "first_name", "last_name", "birth_date", "gender"):
        return DataCategory.IDENTITY
    if key in ("postcode", "address", "city", "country"):
        return DataCategory.CONTACT
    if key in ("health", "religion", "ethnicity", "biometric", "sexual_orientation"):
        return DataCategory.SENSITIVE
    return DataCategory.DESCRIPTIVE


def _check_suppression(identifiers: Iterable[tuple[str, str, str, bool]]) -> None:
    condition = Q()
    for kind, _normalized, index, _verified in identifiers:
        condition |= Q(kind=kind, value_index=index)
    if SuppressedIdentity.objects.filter(condition).exists():
        raise IdentitySuppressed(SUPPRESSED_MESSAGE)


def subject_create(*, region: str, actor: Actor, jurisdiction: str = "") -> Subject:
    """A new subject with its own data key (wrapped by the current master key), in a region
    within the actor's scope."""
    region_check(region=region, actor=actor)
    with transaction.atomic():
        subject = Subject.objects.create(region=region, jurisdiction=jurisdiction)
        SubjectKey.create_for(subject.pk)
        audit_subject_action(
            actor=actor,
            action="profiles.subject.create",
            subject=subject,
        )
    return subject


def subject_upsert(
    *, record: Any, actor: Actor, source: System | None = None, default_region: str = ""
) -> UpsertResult:
    """Create or update a subject from one record (identifiers, attributes, events).

    Deterministic matching on identifier blind indexes within the record's region first
    (several matched subjects are merged); a new subject is then compared probabilistically.
    A record for a region outside the actor's scope is refused (RegionNotAllowed, 403).
    Subjects of other regions are never matched, written or merged: a shared identity or a
    probable match with one becomes a MatchReview, counted in `review_items` only when the
    actor's regions cover it, so nothing tells the caller a person exists out of their scope.
    Suppressed (erased) identities are refused in every region. Transactional; a concurrent
    insert of the same identity is retried once.
    """
    parsed = parse_record(record, default_region=default_region)
    region_check(region=parsed.region, actor=actor)
    _check_suppression(parsed.identifiers)
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _upsert(parsed, actor=actor, source=source)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _identity_holders(parsed: ParsedRecord) -> tuple[set[uuid.UUID], dict[uuid.UUID, set[str]]]:
    """The subjects holding one of the record's identities: those of its region, and those of
    other regions with the signals they share (for a review, never a merge)."""
    condition = Q()
    for kind, _normalized, index, _verified in parsed.identifiers:
        condition |= Q(kind=kind, value_index=index)
    holders = list(
        Identifier.objects.filter(condition).values_list("subject_id", "region", "kind").distinct()
    )
    matched_ids = {sid for sid, region, _kind in holders if region == parsed.region}
    elsewhere: dict[uuid.UUID, set[str]] = {}
    for sid, region, kind in holders:
        if region != parsed.region:
            elsewhere.setdefault(sid, set()).add(f"identifier:{kind}")
    return matched_ids, elsewhere


def _upsert(parsed: ParsedRecord, *, actor: Actor, source: System | None) -> UpsertResult:
    matched_ids, elsewhere = _identity_holders(parsed)
    matched = list(
        Subject.objects.filter(
            pk__in=matched_ids, status=Subject.Status.ACTIVE, region=parsed.region
        )
        .order_by("created_at")
        .select_for_update()
    )
    created = not matched
    if created:
        subject = Subject.objects.create(region=parsed.region)
        SubjectKey.create_for(subject.pk)
    else:
        subject = matched[0]
    result = UpsertResult(subject_id=subject.pk, created=created)
    for other in matched[1:]:
        subjects_merge(
            survivor=subject,
            merged=other,
            method="deterministic",
            confidence=1.0,
            signals=["identifier"],
            actor=actor,
            source=source,
        )
        result.merged.append(other.pk)
    changed = _identifiers_add(subject, parsed, source)
    changed |= _attributes_set(subject, parsed, source)
    if any(matching.is_signal(key) for key, _value, _category in parsed.attributes):
        matching_service.match_profile_refresh(
            subject, attributes=_signal_values(parsed) if created else None
        )
    if _events_add(subject, parsed, source):
        changed.add("events")
    audit_subject_action(
        actor=actor,
        action="profiles.subject.create" if created else "profiles.subject.update",
        subject=subject,
        fields=changed,
    )
    if elsewhere:
        result.review_items += review_across_regions(subject, elsewhere, actor=actor)
    if created and parsed.attributes:
        reviews, merged_into = resolve_probabilistically(subject, actor=actor, source=source)
        result.review_items += reviews
        if merged_into is not None:
            result.subject_id = merged_into
            result.merged.append(subject.pk)
    return result


def _identifiers_add(subject: Subject, parsed: ParsedRecord, source: System | None) -> set[str]:
    """Add the record's identities the subject does not hold yet; returns the changed fields."""
    known = set(Identifier.objects.filter(subject=subject).values_list("kind", "value_index"))
    changed: set[str] = set()
    for kind, normalized, index, verified in parsed.identifiers:
        if (kind, index) in known:
            continue
        Identifier.objects.create(
            subject=subject,
            kind=kind,
            value=normalized,
            value_index=index,
            region=subject.region,
            source=source,
            verified=verified,
        )
        changed.add(f"identifier.{kind}")
    return changed


def _attributes_set(subject: Subject, parsed: ParsedRecord, source: System | None) -> set[str]:
    """Write the record's attributes (newest value wins, with source and collection time)."""
    changed: set[str] = set()
    existing = {
        a.key: a for a in Attribute.objects.filter(subject=subject).select_related("subject")
    }
    for key, value, category in parsed.attributes:
        attribute = existing.get(key) or Attribute(subject=subject, key=key)
        attribute.subject = subject
        attribute.value = value
        attribute.category = category
        attribute.match_index = matching.match_index(key, value)
        attribute.source = source
        attribute.collected_at = timezone.now()
        attribute.save()
        changed.add(f"attribute.{key}")
    return changed


def _events_add(subject: Subject, parsed: ParsedRecord, source: System | None) -> bool:
    """Add the record's events; one already recorded (same dedup key) is not added twice."""
    if parsed.events:
        Event.objects.bulk_create(
            [
                Event(
                    subject=subject,
                    name=name,
                    payload=payload,
                    occurred_at=when,
                    source=source,
                    dedup_key=event_dedup_key(name, when, payload),
                )
                for name, payload, when in parsed.events
            ],
            ignore_conflicts=True,
        )
        return True
    return False


def suppressed_among(records: list[ParsedRecord]) -> set[int]:
    """Positions of the records carrying an erased (suppressed) identity: one query."""
    pairs = {(kind, index) for r in records for kind, _n, index, _v in r.identifiers}
    if not pairs:
        return set()
    condition = Q()
    for kind, index in pairs:
        condition |= Q(kind=kind, value_index=index)
    hit = set(SuppressedIdentity.objects.filter(condition).values_list("kind", "value_index"))
    return {
        n
        for n, r in enumerate(records)
        if any((kind, index) in hit for kind, _n, index, _v in r.identifiers)
    }


def _signal_values(record: ParsedRecord) -> dict[str, str]:
    return {key: value for key, value, _category in record.attributes if matching.is_signal(key)}


def upsert_partition(records: list[ParsedRecord]) -> tuple[list[int], list[int]]:
    """Split a batch into records that are certainly new people, with nothing to match, merge
    or review (created together by `subjects_create_batch`), and the others (run one by one
    through `subject_upsert`, after the first group, in their original order).

    A record is certainly new when none of its identifiers exists or appears in another record
    of the batch, and none of its blocking keys (profiles.matching) appears in another record
    of the batch or among active subjects: nobody to compare it with. Two queries."""
    pairs = [{(k, i) for k, _n, i, _v in r.identifiers} for r in records]
    every_pair = [p for ps in pairs for p in ps]
    seen_pairs = Counter(every_pair)
    existing: set[tuple[str, str]] = set()
    if every_pair:
        condition = Q()
        for kind, index in set(every_pair):
            condition |= Q(kind=kind, value_index=index)
        existing = set(Identifier.objects.filter(condition).values_list("kind", "value_index"))
    blocks = [matching.encode(_signal_values(r)).blocks for r in records]
    seen_blocks = Counter(b for bs in blocks for b in set(bs))
    taken = set(
        MatchBlock.objects.filter(
            key__in=list(seen_blocks), subject__status=Subject.Status.ACTIVE
        ).values_list("key", flat=True)
    )
    fast, slow = [], []
    for n in range(len(records)):
        certain = (
            not (pairs[n] & existing)
            and all(seen_pairs[p] == 1 for p in pairs[n])
            and all(seen_blocks[b] == 1 and b not in taken for b in blocks[n])
        )
        (fast if certain else slow).append(n)
    return fast, slow


def _new_subject_rows(
    subject: Subject, record: ParsedRecord, source: System | None, now: dt.datetime
) -> tuple[tuple[list[Identifier], list[Attribute], list[Event]], set[str]]:
    """The identifier, attribute and event rows of a new subject from its record (a repeated
    identity once), and the field names its audit event lists."""
    changed: set[str] = set()
    identifiers: list[Identifier] = []
    attributes: list[Attribute] = []
    events: list[Event] = []
    unique = {
        (kind, index): (kind, norm, index, ver) for kind, norm, index, ver in record.identifiers
    }
    for kind, normalized, index, verified in unique.values():
        identifiers.append(
            Identifier(
                subject=subject,
                kind=kind,
                value=normalized,
                value_index=index,
                region=subject.region,
                source=source,
                verified=verified,
            )
        )
        changed.add(f"identifier.{kind}")
    for key_name, value, category in record.attributes:
        attributes.append(
            Attribute(
                subject=subject,
                key=key_name,
                value=value,
                category=category,
                match_index=matching.match_index(key_name, value),
                source=source,
                collected_at=now,
            )
        )
        changed.add(f"attribute.{key_name}")
    for name, payload, when in record.events:
        events.append(
            Event(
                subject=subject,
                name=name,
                payload=payload,
                occurred_at=when,
                source=source,
                dedup_key=event_dedup_key(name, when, payload),
            )
        )
        changed.add("events")
    return (identifiers, attributes, events), changed


def subjects_create_batch(
    *, records: list[ParsedRecord], actor: Actor, source: System | None = None
) -> list[UpsertResult]:
    """Create one new subject per record, all at once (bulk inserts, one audit append): for
    records `upsert_partition` found certainly new. Same rows, encryption and audit events as
    `subject_upsert` would write for them. Call inside a transaction."""
    now = timezone.now()
    subjects, keys, identifiers, attributes, events, audits = [], [], [], [], [], []
    for record in records:
        region_check(region=record.region, actor=actor)
        subject = Subject(id=uuid.uuid4(), region=record.region)
        key_row, key = SubjectKey.build_for(subject.pk)
        subject.remember_data_key(key, key_row.key_id)
        subjects.append(subject)
        keys.append(key_row)
        (its_identifiers, its_attributes, its_events), changed = _new_subject_rows(
            subject, record, source, now
        )
        identifiers += its_identifiers
        attributes += its_attributes
        events += its_events
        audits.append(
            {
                "action": "profiles.subject.create",
                "object_type": "profiles.subject",
                "object_id": subject.pk,
                "subject_id": subject.pk,
                "region": subject.region,
                "fields": changed,
            }
        )
    with transaction.atomic():
        Subject.objects.bulk_create(subjects)
        SubjectKey.objects.bulk_create(keys)
        Identifier.objects.bulk_create(identifiers)
        Attribute.objects.bulk_create(attributes)
        profiles, blocks = matching_service.match_profile_rows(
            [(s, _signal_values(r)) for s, r in zip(subjects, records, strict=True)]
        )
        MatchProfile.objects.bulk_create(profiles)
        MatchBlock.objects.bulk_create(blocks)
        Event.objects.bulk_create(events, ignore_conflicts=True)
        audit_record_many(actor=actor, entries=audits)
    return [UpsertResult(subject_id=s.pk, created=True) for s in subjects]


def event_dedup_key(name: str, when: dt.datetime, payload: Any) -> str:
    """Keyed (blind-index key) hash, so equal events collapse without revealing payloads."""
    canonical = json.dumps([name, when.isoformat(), payload], sort_keys=True, default=str)
    return blind_index("event", canonical)
