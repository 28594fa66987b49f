"""Ingest into the golden record: parse a record, upsert one subject (deterministic matching,
then probabilistic resolution), create many at once for bulk imports. Transactional, audited
with field names, never values; a record for another region is refused."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.actors import Actor
from audit.services import audit_subject_action
from core.errors import DomainError
from core.regions import KNOWN_REGIONS
from profiles import matching
from profiles.crypto.blind_index import IDENTIFIER_KINDS, blind_index, normalize
from profiles.models import (
    Attribute,
    DataCategory,
    Event,
    Identifier,
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

_CATEGORIES = tuple(DataCategory.values)  # .values builds a new list on every access
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
    return ParsedRecord(
        region=region,
        identifiers=_parse_identifiers(record.get("identifiers") or [], region),
        attributes=_parse_attributes(record.get("attributes") or {}),
        events=_parse_events(record.get("events") or []),
    )


def _parse_identifiers(raw: Any, region: str) -> list[tuple[str, str, str, bool]]:
    """The record's identities, each once: an identity listed twice (the same e-mail in two
    spellings) is one, verified if either says so (written twice, it broke the identifier's
    unique constraint)."""
    if not isinstance(raw, list) or not raw:
        raise _bad("At least one identifier is required.", "identifiers")
    identities: dict[tuple[str, str], tuple[str, str, str, bool]] = {}
    for item in raw:
        if not isinstance(item, dict) or item.get("kind") not in IDENTIFIER_KINDS:
            raise _bad(
                f"Identifier kind must be one of {', '.join(IDENTIFIER_KINDS)}.", "identifiers"
            )
        value = item.get("value")
        if not isinstance(value, str):
            raise _bad("Identifier value must be a string.", "identifiers")
        kind = item["kind"]
        normalized = normalize(kind, value, default_region=region)
        index = blind_index(kind, normalized)
        earlier = identities.get((kind, index))
        verified = bool(item.get("verified")) or (earlier is not None and earlier[3])
        identities[(kind, index)] = (kind, earlier[1] if earlier else normalized, index, verified)
    return list(identities.values())


def _parse_attributes(raw: Any) -> list[tuple[str, str, str]]:
    if isinstance(raw, dict):
        raw = [{"key": k, "value": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise _bad("Attributes must be an object or a list.", "attributes")
    attributes = []
    for item in raw:
        key = str(item.get("key", "")) if isinstance(item, dict) else ""
        if not key or not key.replace("_", "").isalnum() or len(key) > 64:
            raise _bad("Attribute keys are short slugs (letters, digits, _).", "attributes")
        category = item.get("category") or default_category(key)
        if category not in _CATEGORIES:
            raise _bad(f"Attribute category must be one of {', '.join(_CATEGORIES)}.", "attributes")
        value = item.get("value")
        if value is None or isinstance(value, (dict, list)):
            raise _bad("Attribute values are strings, numbers or booleans.", "attributes")
        attributes.append((key, str(value), category))
    return attributes


def _parse_events(raw: Any) -> list[tuple[str, Any, dt.datetime]]:
    if not isinstance(raw, list):
        raise _bad("Events must be a list.", "events")
    events = []
    for item in raw:
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            raise _bad("Each event needs a name.", "events")
        occurred = item.get("occurred_at")
        when = _event_time(occurred)
        if occurred is not None and when is None:
            raise _bad("occurred_at must be an ISO 8601 date-time.", "events")
        payload = item.get("payload", {})
        if not isinstance(payload, (dict, list)):
            raise _bad("Event payload must be a JSON object or array.", "events")
        events.append((str(item["name"])[:100], payload, when or timezone.now()))
    return events


def _event_time(occurred: Any) -> dt.datetime | None:
    """An event's ISO 8601 time (naive means UTC), offset kept (the dedup key holds it); None
    if it is none, or no time the database can store in UTC (February 30th, or
    0001-01-01T00:00+14:00, which is in year 0 in UTC)."""
    if not isinstance(occurred, str):
        return None
    try:
        when = parse_datetime(occurred)
        if when is None:
            return None
        if timezone.is_naive(when):
            return timezone.make_aware(when, dt.UTC)
        when.astimezone(dt.UTC)  # raises OverflowError out of range
        return when
    except (ValueError, OverflowError):
        return None


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
    return subject_upsert_parsed(parsed, actor=actor, source=source)


def subject_upsert_parsed(
    parsed: ParsedRecord, *, actor: Actor, source: System | None = None
) -> UpsertResult:
    """`subject_upsert` of a record already parsed (`parse_record`)."""
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
    # Again once the identities are written: an erasure that committed after the first check
    # (or that this insert waited for) suppressed them, and the person must not come back.
    _check_suppression(parsed.identifiers)
    changed |= _attributes_set(subject, parsed, source)
    if any(matching.is_signal(key) for key, _value, _category in parsed.attributes):
        matching_service.match_profile_refresh(
            subject, attributes=record_signal_values(parsed) if created else None
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


def record_signal_values(record: ParsedRecord) -> dict[str, str]:
    """The record's values that matching encodes (names, birth date, postcode, address)."""
    return {key: value for key, value, _category in record.attributes if matching.is_signal(key)}


def event_dedup_key(name: str, when: dt.datetime, payload: Any) -> str:
    """Keyed (blind-index key) hash, so equal events collapse without revealing payloads."""
    canonical = json.dumps([name, when.isoformat(), payload], sort_keys=True, default=str)
    return blind_index("event", canonical)
