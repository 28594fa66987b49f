"""Set-based import of a chunk of parsed records (bulk NDJSON imports): the identities and
matching signals of the whole chunk are looked up in a few queries, the records that certainly
name a new person or certainly update one existing person are written together (bulk inserts
and upserts, one audit append), and only the others (merges, probable matches, identities held
in another region, the same person twice in the chunk) go one by one through `subject_upsert`.
The outcome equals importing the chunk line by line."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_append_many
from core.bulk import Row, any_of, rows_insert
from profiles import matching
from profiles.matching import ATTRIBUTE_KEYS
from profiles.models import (
    Attribute,
    Event,
    Identifier,
    MatchBlock,
    MatchProfile,
    Subject,
    SubjectKey,
    SuppressedIdentity,
    System,
)
from profiles.services.guards import region_check
from profiles.services.ingest import ParsedRecord, event_dedup_key, record_signal_values
from profiles.services.matching import Contest, match_contests_batch

Pair = tuple[str, str]  # (identifier kind, blind index) or (attribute key, match index)
Holder = tuple[str, uuid.UUID, str]  # region, subject id, subject status


class ChunkRaced(IntegrityError):
    """A subject the plan updates was merged, erased or deleted by another writer meanwhile:
    roll the bulk write back and import the records one by one."""


@dataclass
class ChunkPlan:
    """How a chunk is written: positions of certainly new people (`new`), of certain updates
    of one existing subject (`existing`, position to subject id), and the others (`slow`), to
    run one by one through `subject_upsert`, after the bulk write, in file order."""

    new: list[int] = field(default_factory=list)
    existing: dict[int, uuid.UUID] = field(default_factory=dict)
    slow: list[int] = field(default_factory=list)
    # Per position: the keyed encodings of the record's matching values (computed once, for
    # the partition and for the match profiles the bulk write stores).
    encoded: list[matching.Encoded] = field(default_factory=list)
    # What matching found per line, the slow lines that are new people held back only by it
    # (`profiles.services.ingest_match` decides them set-based), the subjects lines name.
    contests: list[Contest] = field(default_factory=list)
    matchable: list[int] = field(default_factory=list)
    named: set[uuid.UUID] = field(default_factory=set)

    @property
    def fast(self) -> list[int]:
        return sorted([*self.new, *self.existing])


def suppressed_among(records: Sequence[ParsedRecord]) -> set[int]:
    """Positions of the records carrying an erased (suppressed) identity: one query."""
    pairs = {(kind, index) for r in records for kind, _n, index, _v in r.identifiers}
    if not pairs:
        return set()
    rows = SuppressedIdentity.objects.filter(
        value_index__in=any_of({index for _kind, index in pairs})
    ).values_list("kind", "value_index")
    hit = {(kind, index) for kind, index in rows if (kind, index) in pairs}
    return {
        n
        for n, r in enumerate(records)
        if any((kind, index) in hit for kind, _n, index, _v in r.identifiers)
    }


def _identity_holders(pairs: set[Pair]) -> dict[Pair, list[Holder]]:
    """Who holds each identity, in any region (one query, blind index IN)."""
    found: dict[Pair, list[Holder]] = {}
    if not pairs:
        return found
    rows = Identifier.objects.filter(
        value_index__in=any_of({index for _k, index in pairs})
    ).values_list("kind", "value_index", "region", "subject_id", "subject__status")
    for kind, index, region, subject_id, status in rows:
        if (kind, index) in pairs:
            found.setdefault((kind, index), []).append((region, subject_id, status))
    return found


def _match_profiles_write(
    written: list[tuple[Subject, ParsedRecord, matching.Encoded | None]],
    stored: dict[uuid.UUID, dict[str, tuple[uuid.UUID, str]]],
) -> None:
    """Keyed encodings and blocking keys of the subjects a bulk write created or changed, in a
    fixed number of statements: new subjects from their record's encodings; known ones whose
    record carries a matching value from all their values (the record's, and the stored ones
    it does not carry, decrypted), written only where they changed. Same rows as
    `match_profile_refresh` subject by subject. `stored`: the known subjects' attribute
    (row id, ciphertext) by key, as read before the write."""
    profiles: dict[uuid.UUID, dict[str, Any]] = {}
    blocks: dict[uuid.UUID, list[str]] = {}
    known: list[uuid.UUID] = []
    for subject, record, encoded in written:
        values = record_signal_values(record)
        if subject.pk in stored and not values:
            continue  # nothing matching changed: its profile stays as it is
        if subject.pk in stored:
            known.append(subject.pk)
            missing = _stored_signals(subject, stored[subject.pk], skip=values)
            if missing:
                encoded = matching.encode(missing | values)
        if encoded is None:
            encoded = matching.encode(values)
        profiles[subject.pk], blocks[subject.pk] = encoded.fields, encoded.blocks
    if known:
        _match_rows_unchanged_drop(known, profiles, blocks)
    # New subjects' profiles are plain inserts (COPY on PostgreSQL); known ones' upserted.
    known_ids = set(known)
    rows_insert(
        MatchProfile,
        [{"subject_id": pk, "encodings": f} for pk, f in profiles.items() if pk not in known_ids],
    )
    rows_insert(
        MatchProfile,
        [{"subject_id": pk, "encodings": f} for pk, f in profiles.items() if pk in known_ids],
        update=("encodings", "updated_at"),
    )
    rows_insert(MatchBlock, [{"subject_id": pk, "key": k} for pk, ks in blocks.items() for k in ks])


def _stored_signals(
    subject: Subject, stored: dict[str, tuple[uuid.UUID, str]], *, skip: dict[str, str]
) -> dict[str, str]:
    """The subject's stored matching values the record does not replace, decrypted."""
    cipher, key_id = subject.data_cipher()
    return {
        key: _ATTRIBUTE_VALUE.decrypt_row(pk=pk, token=token, cipher=cipher, key_id=key_id)
        for key, (pk, token) in stored.items()
        if key in ATTRIBUTE_KEYS and key not in skip
    }


def _match_rows_unchanged_drop(
    known: list[uuid.UUID],
    profiles: dict[uuid.UUID, dict[str, Any]],
    blocks: dict[uuid.UUID, list[str]],
) -> None:
    """Compare the known subjects' new encodings with their stored ones (two queries): drop
    the profiles that did not change and the blocking keys already stored from what is to be
    written, and delete the stored keys they lost (one statement)."""
    for subject_id, fields in MatchProfile.objects.filter(subject_id__in=any_of(known)).values_list(
        "subject_id", "encodings"
    ):
        if profiles.get(subject_id) == fields:
            del profiles[subject_id]
    gone = []
    have: dict[uuid.UUID, set[str]] = {}
    for pk, subject_id, key in MatchBlock.objects.filter(subject_id__in=any_of(known)).values_list(
        "pk", "subject_id", "key"
    ):
        if key in blocks[subject_id]:
            have.setdefault(subject_id, set()).add(key)
        else:
            gone.append(pk)
    for subject_id, stored_keys in have.items():
        blocks[subject_id] = [k for k in blocks[subject_id] if k not in stored_keys]
    if gone:
        MatchBlock.objects.filter(pk__in=gone).delete()


def _named_subject(
    region: str, pairs: set[Pair], holders: dict[Pair, list[Holder]]
) -> uuid.UUID | Literal[False] | None:
    """The one active subject of the record's region its identities name, None for nobody,
    False when they name several, one in another region, or one that is not active."""
    named = set()
    for pair in pairs:
        for holder_region, subject_id, status in holders.get(pair, ()):
            if holder_region != region or status != Subject.Status.ACTIVE:
                return False
            named.add(subject_id)
    if len(named) > 1:
        return False
    return next(iter(named), None)


def upsert_partition(records: Sequence[ParsedRecord]) -> ChunkPlan:
    """Split a chunk into certainly new people, certain updates and the others. Four queries.

    A record is certain when none of its identities appears in another record of the chunk,
    its attribute keys are distinct, no active subject other than the one it names and no
    other record of the chunk could match it (`match_contests_batch`: the blocked candidates
    scored by the current model stay under the review weight), and its identities name no
    subject (new) or exactly one active subject of its region that no other record names
    (update). Everything else goes one by one, in file order, after the bulk write."""
    pairs = [{(k, i) for k, _n, i, _v in r.identifiers} for r in records]
    encoded = matching.encode_many([record_signal_values(r) for r in records])
    seen_pairs = Counter(p for ps in pairs for p in ps)
    holders = _identity_holders(set(seen_pairs))
    named = [_named_subject(r.region, pairs[n], holders) for n, r in enumerate(records)]
    named_count = Counter(named)
    contests = match_contests_batch(encoded, [s if s else None for s in named])
    plan = ChunkPlan(encoded=encoded, contests=contests, named={s for s in named if s})
    for n, record in enumerate(records):
        subject_id = named[n]
        plain = all(seen_pairs[p] == 1 for p in pairs[n]) and len(
            {key for key, _v, _c in record.attributes}
        ) == len(record.attributes)
        certain = subject_id is not False and not contests[n].contested and plain
        if certain and subject_id is None:
            plan.new.append(n)  # nobody (in the database or the chunk) it could match
        elif certain and subject_id and named_count[subject_id] == 1:
            plan.existing[n] = subject_id
        else:
            plan.slow.append(n)
            if plain and subject_id is None and not contests[n].within:
                plan.matchable.append(n)
    return plan


# The encrypted fields a bulk write seals (looked up once, not per value).
_IDENTIFIER_VALUE = cast(Any, Identifier._meta.get_field("value"))
_ATTRIBUTE_VALUE = cast(Any, Attribute._meta.get_field("value"))
_EVENT_PAYLOAD = cast(Any, Event._meta.get_field("payload"))


@dataclass
class _Rows:
    """The rows of a bulk write, built in memory as column values (values encrypted here)."""

    source: System | None
    now: dt.datetime
    subjects: list[Row] = field(default_factory=list)
    keys: list[Row] = field(default_factory=list)
    identifiers: list[Row] = field(default_factory=list)
    attributes: list[Row] = field(default_factory=list)  # rows that exist: upserted in place
    new_attributes: list[Row] = field(default_factory=list)  # fresh row ids: plain inserts
    events: list[Row] = field(default_factory=list)  # of known subjects: may repeat a stored one
    new_events: list[Row] = field(default_factory=list)  # of subjects created here: plain inserts
    created: set[uuid.UUID] = field(default_factory=set)
    _new_event_keys: set[tuple[uuid.UUID, str]] = field(default_factory=set)

    def new_subject(self, region: str) -> Subject:
        subject = Subject(id=uuid.uuid4(), region=region)
        self.created.add(subject.pk)
        key_row, key = SubjectKey.build_for(subject.pk)
        subject.remember_data_key(key, key_row.key_id)
        self.subjects.append({"id": subject.pk, "region": region})
        self.keys.append(
            {
                "subject_id": subject.pk,
                "key_id": key_row.key_id,
                "wrapped_key": key_row.wrapped_key,
                "master_version": key_row.master_version,
            }
        )
        return subject

    def add(
        self,
        subject: Subject,
        record: ParsedRecord,
        held: set[Pair],
        attribute_ids: dict[str, uuid.UUID],
    ) -> set[str]:
        """Rows of one record for `subject`: identities it does not hold yet, its attributes
        (an existing key keeps its row id, so the upsert re-encrypts it in place) and events.
        Returns the field names its audit event lists."""
        changed: set[str] = set()
        source_id = self.source.pk if self.source else None
        common = {"subject_id": subject.pk, "source_id": source_id}
        cipher, key_id = subject.data_cipher()  # once per record, not per value
        for kind, normalized, index, verified in record.identifiers:
            if (kind, index) in held:
                continue
            held.add((kind, index))
            pk = uuid.uuid4()
            value = _IDENTIFIER_VALUE.seal(normalized, row_id=pk, cipher=cipher, key_id=key_id)
            self.identifiers.append(
                {"id": pk, **common, "kind": kind, "value": value, "value_index": index}
                | {"region": subject.region, "verified": verified}
            )
            changed.add(f"identifier.{kind}")
        for key, value, category in record.attributes:
            stored_id = attribute_ids.get(key)
            rows = self.attributes if stored_id else self.new_attributes
            pk = stored_id or uuid.uuid4()
            rows.append(
                {"id": pk, **common, "key": key, "category": category}
                | {"value": _ATTRIBUTE_VALUE.seal(value, row_id=pk, cipher=cipher, key_id=key_id)}
                | {"collected_at": self.now}
            )
            changed.add(f"attribute.{key}")
        for name, payload, when in record.events:
            dedup_key = event_dedup_key(name, when, payload)
            events = self.events
            if subject.pk in self.created:  # nothing stored to repeat: only the record itself
                if (subject.pk, dedup_key) in self._new_event_keys:
                    continue
                self._new_event_keys.add((subject.pk, dedup_key))
                events = self.new_events
            pk = uuid.uuid4()
            events.append(
                {"id": pk, **common, "name": name, "occurred_at": when}
                | {"payload": _EVENT_PAYLOAD.seal(payload, row_id=pk, cipher=cipher, key_id=key_id)}
                | {"dedup_key": dedup_key}
            )
            changed.add("events")
        return changed

    def write(self) -> None:
        rows_insert(Subject, self.subjects)
        rows_insert(SubjectKey, self.keys)
        rows_insert(Identifier, self.identifiers)
        rows_insert(Attribute, self.new_attributes)
        rows_insert(
            Attribute,
            self.attributes,
            update=("value", "category", "source_id", "collected_at"),
        )
        rows_insert(Event, self.new_events)
        rows_insert(Event, self.events, ignore_conflicts=True)


def _subjects_locked(ids: set[uuid.UUID]) -> dict[uuid.UUID, Subject]:
    """The subjects a plan updates, locked (no merge or erasure runs meanwhile), still active,
    with their data keys loaded in one query; raises ChunkRaced if one changed meanwhile."""
    if not ids:
        return {}
    subjects = {
        s.pk: s
        # Locked in one order (primary key), so two imports never wait on each other in a cycle.
        for s in Subject.objects.select_for_update()
        .filter(pk__in=any_of(ids), status=Subject.Status.ACTIVE)
        .order_by("pk")
    }
    if len(subjects) != len(ids):
        raise ChunkRaced("a subject changed while the chunk was planned")
    Subject.data_keys_load(subjects.values())
    return subjects


def _held_by(
    subject_ids: set[uuid.UUID],
) -> tuple[dict[uuid.UUID, set[Pair]], dict[uuid.UUID, dict[str, tuple[uuid.UUID, str]]]]:
    """The identities the subjects hold, and their attributes by key (row id, ciphertext, so
    an upsert keeps the row and matching can decrypt a value the record does not replace):
    two queries."""
    held: dict[uuid.UUID, set[Pair]] = {sid: set() for sid in subject_ids}
    attributes: dict[uuid.UUID, dict[str, tuple[uuid.UUID, str]]] = {sid: {} for sid in subject_ids}
    if subject_ids:
        for sid, kind, index in Identifier.objects.filter(
            subject_id__in=any_of(subject_ids)
        ).values_list("subject_id", "kind", "value_index"):
            held[sid].add((kind, index))
        for sid, key, pk, token in Attribute.objects.filter(
            subject_id__in=any_of(subject_ids)
        ).values_list("subject_id", "key", "id", "value"):
            attributes[sid][key] = (pk, token)
    return held, attributes


def subjects_upsert_batch(
    *,
    records: Sequence[ParsedRecord],
    plan: ChunkPlan,
    actor: Actor,
    source: System | None = None,
) -> list[uuid.UUID]:
    """Write the plan's certain records all at once: new subjects with their keys, added
    identities, attributes (inserted or updated in place), events (a repeated one is not
    added twice), and one audit event per subject (create or update, field names only) in
    one append. Same rows, encryption and audit events as `subject_upsert` line by line.

    Raises IntegrityError (ChunkRaced included) when a concurrent writer created one of the
    identities or changed one of the subjects meanwhile: roll back, run them one by one.
    Returns the subject ids, in the order of `plan.fast`. Call inside a transaction."""
    for n in plan.fast:
        region_check(region=records[n].region, actor=actor)
    now = timezone.now()
    existing = _subjects_locked(set(plan.existing.values()))
    held, stored = _held_by(set(existing))
    rows = _Rows(source=source, now=now)
    audits, ids = [], []
    written: list[tuple[Subject, ParsedRecord, matching.Encoded | None]] = []
    for n in plan.fast:
        subject_id = plan.existing.get(n)
        subject = existing[subject_id] if subject_id else rows.new_subject(records[n].region)
        attribute_ids = {key: pk for key, (pk, _token) in stored.get(subject.pk, {}).items()}
        changed = rows.add(subject, records[n], held.get(subject.pk, set()), attribute_ids)
        ids.append(subject.pk)
        written.append((subject, records[n], plan.encoded[n] if plan.encoded else None))
        audits.append(
            {
                "action": "profiles.subject.update" if subject_id else "profiles.subject.create",
                "object_type": "profiles.subject",
                "object_id": subject.pk,
                "subject_id": subject.pk,
                "region": subject.region,
                "fields": changed,
            }
        )
    with transaction.atomic():
        rows.write()
        _match_profiles_write(written, stored)
        audit_append_many(actor=actor, entries=audits)
    return ids
