"""Writes to the golden record: upsert, merge, identity resolution, erasure (crypto-shredding),
key rotation. Every write is transactional and audited with field names, never values.

Every write takes the actor and stays within the actor's regions (`actor.regions`): a record
for another region is refused, subjects of other regions are invisible to matching (an
identity is unique per region), and a match across regions only ever becomes a review for an
officer whose regions cover both subjects."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.actors import Actor
from audit.services import audit_record, audit_record_many
from core.errors import ConflictError, DomainError, ForbiddenError, NotFoundError
from core.regions import KNOWN_REGIONS
from profiles import matching
from profiles.crypto.blind_index import IDENTIFIER_KINDS, blind_index, normalize
from profiles.crypto.keyring import master_keyring
from profiles.keystore import data_keys_shred
from profiles.models import (
    Attribute,
    DataCategory,
    Event,
    Identifier,
    MatchReview,
    MergeLineage,
    Subject,
    SubjectKey,
    SuppressedIdentity,
    System,
)

SUPPRESSED_MESSAGE = "This identity was erased and is suppressed; it cannot be re-imported."


class IdentitySuppressed(DomainError):
    code = "identity_suppressed"
    status = 409


class RegionNotAllowed(ForbiddenError):
    code = "region_not_allowed"


def region_check(*, region: str, actor: Actor) -> None:
    """Refuse a write for a region outside the actor's scope (403 `region_not_allowed`)."""
    if not actor.covers(region):
        raise RegionNotAllowed("Outside your region scope.", fields={"region": ["not allowed"]})


def _subject_check(subject: Subject, actor: Actor) -> None:
    """A subject outside the actor's regions does not exist for them (404, never 403)."""
    if not actor.covers(subject.region):
        raise NotFoundError("Subject not found.")


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
class _Record:
    region: str
    identifiers: list[tuple[str, str, str, bool]]  # kind, normalized, index, verified
    attributes: list[tuple[str, str, str]]  # key, value, category
    events: list[tuple[str, Any, dt.datetime]]


def _bad(message: str, field_name: str) -> DomainError:
    return DomainError(message, code="invalid", fields={field_name: [message]})


def parse_record(record: Any, *, default_region: str = "") -> _Record:
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
        category = item.get("category") or _default_category(key)
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
    return _Record(region=region, identifiers=identifiers, attributes=attributes, events=events)


def _default_category(key: str) -> str:
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
        audit_record(
            actor=actor,
            action="profiles.subject.create",
            object_type="profiles.subject",
            object_id=subject.pk,
            subject_id=subject.pk,
            region=region,
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


def _upsert(parsed: _Record, *, actor: Actor, source: System | None) -> UpsertResult:
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
        changed.add("events")
    audit_record(
        actor=actor,
        action="profiles.subject.create" if created else "profiles.subject.update",
        object_type="profiles.subject",
        object_id=subject.pk,
        subject_id=subject.pk,
        region=subject.region,
        fields=changed,
    )
    if elsewhere:
        result.review_items += _review_across_regions(subject, elsewhere, actor=actor)
    if created and parsed.attributes:
        reviews, merged_into = _resolve_probabilistically(subject, actor=actor, source=source)
        result.review_items += reviews
        if merged_into is not None:
            result.subject_id = merged_into
            result.merged.append(subject.pk)
    return result


def _review_across_regions(
    subject: Subject, others: dict[uuid.UUID, set[str]], *, actor: Actor
) -> int:
    """Propose each active subject of another region sharing an identity with `subject` to an
    officer (a MatchReview, score 1.0): never merged automatically. Returns how many of the
    proposals the actor may know of (their regions cover the other subject)."""
    known = 0
    for other in Subject.objects.filter(pk__in=list(others), status=Subject.Status.ACTIVE):
        pair = Q(subject=subject, candidate=other) | Q(subject=other, candidate=subject)
        if not MatchReview.objects.filter(pair).exists():
            MatchReview.objects.create(
                subject=subject, candidate=other, score=1.0, signals=sorted(others[other.pk])
            )
            known += int(actor.covers(other.region))
    return known


def suppressed_among(records: list[_Record]) -> set[int]:
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


def _signals(record: _Record) -> set[tuple[str, str]]:
    return {
        (key, index)
        for key, value, _category in record.attributes
        if (index := matching.match_index(key, value))
    }


def upsert_partition(records: list[_Record]) -> tuple[list[int], list[int]]:
    """Split a batch into records that are certainly new people, with nothing to match, merge
    or review (created together by `subjects_create_batch`), and the others (run one by one
    through `subject_upsert`, after the first group, in their original order).

    A record is certainly new when none of its identifiers exists or appears in another record
    of the batch, none of its matching signals appears in another record of the batch, and no
    existing subject scores at or above the review threshold against it. Four queries."""
    pairs = [{(k, i) for k, _n, i, _v in r.identifiers} for r in records]
    signals = [_signals(r) for r in records]
    every_pair = [p for ps in pairs for p in ps]
    every_signal = [s for ss in signals for s in ss]
    seen_pairs = Counter(every_pair)
    seen_signals = Counter(every_signal)
    existing: set[tuple[str, str]] = set()
    if every_pair:
        condition = Q()
        for kind, index in set(every_pair):
            condition |= Q(kind=kind, value_index=index)
        existing = set(Identifier.objects.filter(condition).values_list("kind", "value_index"))
    candidates: dict[tuple[str, str], set[uuid.UUID]] = {}
    if every_signal:
        condition = Q()
        for key, index in set(every_signal):
            condition |= Q(key=key, match_index=index)
        for subject_id, key, index in Attribute.objects.filter(
            condition, subject__status=Subject.Status.ACTIVE
        ).values_list("subject_id", "key", "match_index"):
            candidates.setdefault((key, index), set()).add(subject_id)
    fast, slow = [], []
    for n in range(len(records)):
        keys_by_subject: dict[uuid.UUID, set[str]] = {}
        for key, index in signals[n]:
            for subject_id in candidates.get((key, index), ()):
                keys_by_subject.setdefault(subject_id, set()).add(key)
        best = max((matching.score(keys) for keys in keys_by_subject.values()), default=0.0)
        certain = (
            not (pairs[n] & existing)
            and all(seen_pairs[p] == 1 for p in pairs[n])
            and all(seen_signals[s] == 1 for s in signals[n])
            and best < settings.CUSTODIA_MATCH_REVIEW
        )
        (fast if certain else slow).append(n)
    return fast, slow


def subjects_create_batch(
    *, records: list[_Record], actor: Actor, source: System | None = None
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
        changed: set[str] = set()
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
        Event.objects.bulk_create(events, ignore_conflicts=True)
        audit_record_many(actor=actor, entries=audits)
    return [UpsertResult(subject_id=s.pk, created=True) for s in subjects]


def event_dedup_key(name: str, when: dt.datetime, payload: Any) -> str:
    """Keyed (blind-index key) hash, so equal events collapse without revealing payloads."""
    canonical = json.dumps([name, when.isoformat(), payload], sort_keys=True, default=str)
    return blind_index("event", canonical)


def match_candidates(subject: Subject) -> list[tuple[Subject, float, list[str]]]:
    """Other active subjects sharing matching signals with `subject`, with their scores."""
    mine = dict(
        Attribute.objects.filter(subject=subject)
        .exclude(match_index="")
        .values_list("key", "match_index")
    )
    if not mine:
        return []
    condition = Q()
    for key, index in mine.items():
        condition |= Q(key=key, match_index=index)
    rows = (
        Attribute.objects.filter(condition)
        .exclude(subject=subject)
        .filter(subject__status=Subject.Status.ACTIVE)
        .values("subject_id")
        .annotate(n=Count("id"))
        .order_by("-n")[:20]
    )
    candidates = []
    for row in rows:
        keys = set(
            Attribute.objects.filter(condition, subject_id=row["subject_id"]).values_list(
                "key", flat=True
            )
        )
        candidates.append(
            (Subject.objects.get(pk=row["subject_id"]), matching.score(keys), sorted(keys))
        )
    return sorted(candidates, key=lambda c: -c[1])


def _resolve_probabilistically(
    subject: Subject, *, actor: Actor, source: System | None
) -> tuple[int, uuid.UUID | None]:
    """Merge a same-region candidate above the auto-merge threshold; propose the others above
    the review threshold (a candidate of another region is only ever proposed). Returns the
    proposals the actor may know of, and the survivor's id if merged."""
    reviews = 0
    for candidate, score, signals in match_candidates(subject):
        same_region = candidate.region == subject.region
        if score >= settings.CUSTODIA_MATCH_AUTO_MERGE and same_region:
            survivor = candidate if candidate.created_at <= subject.created_at else subject
            merged = subject if survivor is candidate else candidate
            subjects_merge(
                survivor=survivor,
                merged=merged,
                method="probabilistic",
                confidence=score,
                signals=signals,
                actor=actor,
                source=source,
            )
            return reviews, survivor.pk
        if score >= settings.CUSTODIA_MATCH_REVIEW:
            _, made = MatchReview.objects.get_or_create(
                subject=subject, candidate=candidate, defaults={"score": score, "signals": signals}
            )
            reviews += int(made and actor.covers(candidate.region))
    return reviews, None


def subjects_merge(
    *,
    survivor: Subject,
    merged: Subject,
    method: str,
    confidence: float,
    signals: list[str],
    actor: Actor,
    source: System | None = None,
) -> MergeLineage:
    """Fold `merged` into `survivor`: values are re-encrypted under the survivor's key, the
    survivor keeps its own attribute values where both have one, lineage is kept, the merged
    subject's key is destroyed and its status becomes `merged`. Audited on both subjects.

    The actor's regions must cover both subjects (else 404). Identifiers move to the
    survivor's region; one the survivor holds already is dropped, one another subject of that
    region holds refuses the merge (409: merge or reject that pair first)."""
    if survivor.pk == merged.pk:
        raise DomainError("A subject cannot be merged into itself.", code="invalid_merge")
    _subject_check(survivor, actor)
    _subject_check(merged, actor)
    across = survivor.region != merged.region
    with transaction.atomic():
        kept = set(Attribute.objects.filter(subject=survivor).values_list("key", flat=True))
        merged.forget_data_key()
        for model, attr in ((Identifier, "value"), (Attribute, "value"), (Event, "payload")):
            for row in model.objects.filter(subject=merged).iterator(chunk_size=500):
                duplicate = (
                    (model is Attribute and row.key in kept)
                    or (
                        model is Event
                        and Event.objects.filter(subject=survivor, dedup_key=row.dedup_key).exists()
                    )
                    or (model is Identifier and across and _identity_held(row, survivor))
                )
                if duplicate:
                    row.delete()
                    continue
                row.subject = merged  # decrypt under the merged subject's key (cached once)
                value = getattr(row, attr)
                row.subject = survivor  # re-encrypt under the survivor's key on save
                setattr(row, attr, value)
                if model is Identifier:
                    row.region = survivor.region
                row.save()
        for lineage in MergeLineage.objects.filter(survivor=merged):
            lineage.survivor = survivor
            lineage.save(update_fields=["survivor"])
        lineage = MergeLineage.objects.create(
            survivor=survivor,
            merged_subject_id=merged.pk,
            method=method,
            confidence=confidence,
            signals=signals,
            source=source,
            merged_by=actor.label,
        )
        data_keys_shred(owner_ids=[merged.pk])
        merged.forget_data_key()
        Subject.objects.filter(pk=merged.pk).update(
            status=Subject.Status.MERGED, merged_into=survivor
        )
        MatchReview.objects.filter(
            Q(subject=merged) | Q(candidate=merged), status="pending"
        ).update(status=MatchReview.Status.REJECTED, decided_by="merge", decided_at=timezone.now())
        for subject_id, region in ((survivor.pk, survivor.region), (merged.pk, merged.region)):
            audit_record(
                actor=actor,
                action="profiles.subject.merge",
                object_type="profiles.subject",
                object_id=subject_id,
                subject_id=subject_id,
                region=region,
                reason=f"{method} merge, confidence {confidence:.2f}",
            )
    return lineage


def _identity_held(row: Identifier, survivor: Subject) -> bool:
    """True if the survivor holds this identity already (the row is a duplicate); raises if
    another subject of the survivor's region holds it."""
    holder = (
        Identifier.objects.filter(
            kind=row.kind, value_index=row.value_index, region=survivor.region
        )
        .values_list("subject_id", flat=True)
        .first()
    )
    if holder is not None and holder != survivor.pk:
        raise ConflictError(
            "Another subject of the survivor's region holds one of these identities.",
            code="identity_conflict",
        )
    return holder is not None


def match_review_decide(*, review: MatchReview, accept: bool, actor: Actor) -> MatchReview:
    """An officer accepts (merge into the older subject) or rejects a probable match. The
    actor's regions must cover both subjects (a review across regions needs both): else 404."""
    with transaction.atomic():
        review = (
            MatchReview.objects.select_for_update()
            .select_related("subject", "candidate")
            .get(pk=review.pk)
        )
        if not actor.covers(review.subject.region, review.candidate.region):
            raise NotFoundError("Match review not found.")
        if review.status != MatchReview.Status.PENDING:
            raise DomainError("This match was already decided.", code="already_decided", status=409)
        if accept:
            a, b = review.subject, review.candidate
            survivor, merged = (a, b) if a.created_at <= b.created_at else (b, a)
            subjects_merge(
                survivor=survivor,
                merged=merged,
                method="review",
                confidence=review.score,
                signals=review.signals,
                actor=actor,
            )
        review.status = MatchReview.Status.ACCEPTED if accept else MatchReview.Status.REJECTED
        review.decided_by = actor.label
        review.decided_at = timezone.now()
        review.save()
        audit_record(
            actor=actor,
            action="profiles.match.accept" if accept else "profiles.match.reject",
            object_type="profiles.matchreview",
            object_id=review.pk,
            subject_id=review.subject_id,
            region=review.subject.region,
        )
    return review


def subject_shred(*, subject_id: uuid.UUID) -> bool:
    """Destroy the subject's data key: every ciphertext under it becomes undecryptable by
    anyone, with any master key. Returns whether a key existed."""
    return bool(data_keys_shred(owner_ids=[subject_id]))


def subject_erase(
    *,
    subject_id: uuid.UUID,
    actor: Actor,
    reason: str = "erasure request",
    keep_events: Collection[uuid.UUID] = (),
) -> dict[str, Any]:
    """Erase a subject (Art. 17): suppress its identities' blind indexes, destroy its data key
    (crypto-shredding, so backups hold only unreadable ciphertext), delete its rows, and keep
    the Subject row as a PII-free anchor with status `erased`. Returns a PII-free summary.

    `keep_events` narrows the erasure to what the law lets us keep (a retention exception such
    as invoices under tax law): those events stay, the data key with them, and the subject is
    `restricted` until a later call without `keep_events` finishes the job. Idempotent."""
    with transaction.atomic():
        subject = Subject.objects.select_for_update().filter(pk=subject_id).first()
        if subject is None or not actor.covers(subject.region):
            raise NotFoundError("Subject not found.")
        identities = list(
            Identifier.objects.filter(subject=subject).values_list("kind", "value_index")
        )
        for kind, index in identities:
            SuppressedIdentity.objects.get_or_create(kind=kind, value_index=index)
        kept = Event.objects.filter(subject=subject, pk__in=list(keep_events))
        kept_count = kept.count()
        key_destroyed = False if kept_count else subject_shred(subject_id=subject.pk)
        summary = {
            "subject_id": str(subject.pk),
            "region": subject.region,
            "identifiers": Identifier.objects.filter(subject=subject).delete()[0],
            "attributes": Attribute.objects.filter(subject=subject).delete()[0],
            "events": Event.objects.filter(subject=subject)
            .exclude(pk__in=list(keep_events))
            .delete()[0],
            "events_kept": kept_count,
            "suppressed_identities": len(identities),
            "data_key_destroyed": key_destroyed,
            "erased_at": timezone.now().isoformat(),
        }
        MatchReview.objects.filter(Q(subject=subject) | Q(candidate=subject)).delete()
        status = Subject.Status.RESTRICTED if kept_count else Subject.Status.ERASED
        Subject.objects.filter(pk=subject.pk).update(status=status)
        audit_record(
            actor=actor,
            action="profiles.subject.erase" if not kept_count else "profiles.subject.restrict",
            object_type="profiles.subject",
            object_id=subject.pk,
            subject_id=subject.pk,
            region=subject.region,
            fields=["identifiers", "attributes", "events"] + ([] if kept_count else ["data_key"]),
            reason=reason if not kept_count else f"{reason}; {kept_count} events kept",
        )
    return summary


def subject_rectify(
    *, subject: Subject, corrections: dict[str, Any], actor: Actor, reason: str
) -> list[str]:
    """Correct attribute values (Art. 16, CPRA right to correct): each key is set to its new
    value under the subject's key, with a new collection time. Audited with the keys changed
    (never the values). Returns the keys changed. The subject must be in the actor's regions."""
    _subject_check(subject, actor)
    changed = []
    with transaction.atomic():
        for key, value in corrections.items():
            if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9_-]{1,64}", key):
                raise DomainError(
                    "Attribute keys are lowercase slugs.", fields={"corrections": ["invalid key"]}
                )
            attribute = Attribute.objects.filter(subject=subject, key=key).first()
            if attribute is None:
                attribute = Attribute(id=uuid.uuid4(), subject=subject, key=key)
                attribute.category = _default_category(key)
            attribute.subject = subject
            attribute.value = value
            attribute.match_index = matching.match_index(key, value)
            attribute.collected_at = timezone.now()
            attribute.save()
            changed.append(key)
        audit_record(
            actor=actor,
            action="profiles.subject.rectify",
            object_type="profiles.subject",
            object_id=subject.pk,
            subject_id=subject.pk,
            region=subject.region,
            fields=[f"attribute:{key}" for key in changed],
            reason=reason,
        )
    return changed


def rotate_keys_batch(*, batch_size: int = 500) -> int:
    """Re-wrap up to `batch_size` data keys that are not under the current master key.

    Online and resumable: each row is swapped with a compare-and-set on its old wrapped value,
    so concurrent reads keep working (old versions stay in the keyring until retired) and a
    concurrent shred or rotation is never overwritten. Returns how many keys were re-wrapped."""
    keyring = master_keyring()
    rows = list(
        SubjectKey.objects.exclude(master_version=keyring.current).order_by("id")[:batch_size]
    )
    done = 0
    for row in rows:
        context = SubjectKey.context(row.subject_id, row.key_id)
        data_key = keyring.unwrap(
            bytes(row.wrapped_key), version=row.master_version, context=context
        )
        wrapped, version = keyring.wrap(data_key, context=context)
        done += SubjectKey.objects.filter(
            pk=row.pk, master_version=row.master_version, key_id=row.key_id
        ).update(wrapped_key=wrapped, master_version=version, rewrapped_at=timezone.now())
    return done


def keys_depending_on(version: int) -> int:
    """How many data keys are still wrapped by master key `version`."""
    return SubjectKey.objects.filter(master_version=version).count()


def subject_share(*, subject: Subject, user: Any, actor: Actor, reason: str, days: int = 7) -> Any:
    """Share one subject with one staff user for a case (a django-guardian per-object grant on a
    direct foreign-key model), even outside their regions, for `days` days. The sharer's own
    regions must cover the subject. Audited."""
    from django.contrib.auth.models import Permission

    from profiles.models import SubjectShare

    if len((reason or "").strip()) < 10:
        raise DomainError(
            "State the case this share is for.",
            code="reason_required",
            fields={"reason": ["required"]},
        )
    _subject_check(subject, actor)
    permission = Permission.objects.get(content_type__app_label="profiles", codename="view_subject")
    with transaction.atomic():
        share = SubjectShare.objects.create(
            content_object=subject,
            user=user,
            permission=permission,
            reason=reason[:500],
            granted_by=actor.label,
            expires_at=timezone.now() + dt.timedelta(days=days),
        )
        audit_record(
            actor=actor,
            action="access.subject.share",
            object_type="profiles.subject",
            object_id=subject.pk,
            subject_id=subject.pk,
            region=subject.region,
            reason=reason,
        )
    return share
