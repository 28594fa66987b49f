"""Set-based matching of an import chunk: the lines whose identities name nobody but that the
model could match to a known person (`ChunkPlan.matchable`, their blocked candidates scored in
memory by `match_contests_batch`) are decided together instead of one by one.

- One candidate at or above the auto-merge weight, of the line's region: the line is merged
  into that person in bulk. The rows are those a one-by-one create-then-merge leaves: the
  line's identities, events and the attributes the survivor has no value for, encrypted under
  the survivor's key; a merged subject (its key never kept) for the lineage; the lineage with
  model version, weight and per-field explanation; the audit events (create, merge on both).
- Candidates between the thresholds only: the line is a new person of the bulk write, and
  its review items are opened in one insert, with the same score fields.
- Ambiguous (several candidates at or above the auto-merge weight, one of another region, a
  person another line of the chunk names, could match or merges into): one by one.

The outcome equals importing the chunk line by line."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_append_many
from core.bulk import rows_insert
from profiles import matching
from profiles.models import (
    Attribute,
    Event,
    Identifier,
    MatchBlock,
    MatchProfile,
    MatchReview,
    MergeLineage,
    Subject,
    System,
)
from profiles.services.ingest import ParsedRecord, event_dedup_key
from profiles.services.ingest_batch import ChunkPlan, ChunkRaced
from profiles.services.matching import (
    Scored,
    match_profile_rows,
    match_profiles_drop,
    review_scored_fields,
)


@dataclass
class ChunkMatches:
    """The contested lines decided set-based: merges (line -> the candidate it merges into)
    and reviews (line, created as a new person -> the candidates proposed to an officer)."""

    merges: dict[int, Scored] = field(default_factory=dict)
    reviews: dict[int, list[Scored]] = field(default_factory=dict)


def chunk_matches_plan(records: Sequence[ParsedRecord], plan: ChunkPlan) -> ChunkMatches:
    """Decide the plan's matchable lines (no query): review-only lines join `plan.new`,
    merges leave `plan.slow`; ambiguous lines stay in `plan.slow`."""
    decided = ChunkMatches()
    for n in plan.matchable:
        scored = plan.contests[n].scored
        autos = [s for s in scored if s.auto_merge]
        if not autos:
            decided.reviews[n] = scored
        elif len(autos) == 1 and autos[0].candidate.region == records[n].region:
            decided.merges[n] = autos[0]
    # A person that another line (other than a review-only one) names, could match or
    # merges into stays one by one: the order of those lines decides the outcome.
    touched = Counter(
        s.candidate.pk
        for n, contest in enumerate(plan.contests)
        if n not in decided.reviews
        for s in contest.scored
    )
    for n, best in list(decided.merges.items()):
        if touched[best.candidate.pk] > 1 or best.candidate.pk in plan.named:
            del decided.merges[n]
    plan.new = sorted([*plan.new, *decided.reviews])
    plan.slow = [n for n in plan.slow if n not in decided.reviews and n not in decided.merges]
    return decided


def chunk_matches_write(
    *,
    records: Sequence[ParsedRecord],
    decided: ChunkMatches,
    created: dict[int, uuid.UUID],
    actor: Actor,
    source: System | None = None,
) -> None:
    """Write the decided lines after the chunk's bulk write (`created`: line -> the subject
    it created): review items in one insert, merges in bulk (`subjects_merge_batch`).
    Raises ChunkRaced when a survivor changed meanwhile. Call inside a transaction."""
    rows_insert(
        MatchReview,
        [
            {"subject_id": created[n], "candidate_id": s.candidate.pk, **review_scored_fields(s)}
            for n, scored in sorted(decided.reviews.items())
            for s in scored
        ],
    )
    subjects_merge_batch(records=records, merges=decided.merges, actor=actor, source=source)


def _survivors_locked(ids: set[uuid.UUID]) -> dict[uuid.UUID, Subject]:
    """The survivors, locked in primary-key order, active, their data keys loaded."""
    if not ids:
        return {}
    survivors = {
        s.pk: s
        for s in Subject.objects.select_for_update()
        .filter(pk__in=list(ids), status=Subject.Status.ACTIVE)
        .order_by("pk")
    }
    if len(survivors) != len(ids):
        raise ChunkRaced("a survivor was merged or erased while the chunk was planned")
    Subject.data_keys_load(survivors.values())
    return survivors


def subjects_merge_batch(
    *,
    records: Sequence[ParsedRecord],
    merges: dict[int, Scored],
    actor: Actor,
    source: System | None = None,
) -> None:
    """Merge each line (position in `records`) into its scored candidate, all at once: the
    rows and records `subject_upsert` + `subjects_merge` leave for a new person merged into
    an older one (see the module's docstring); the survivors' encodings are recomputed when
    they gained a matching value. A fixed number of queries. Each survivor must be the
    target of one line only. Raises ChunkRaced when one is no longer active."""
    if not merges:
        return
    survivors = _survivors_locked({s.candidate.pk for s in merges.values()})
    held: dict[uuid.UUID, set[str]] = {pk: set() for pk in survivors}  # their attribute keys
    for subject_id, key in Attribute.objects.filter(subject_id__in=list(survivors)).values_list(
        "subject_id", "key"
    ):
        held[subject_id].add(key)
    rows = _MergeRows(source=source, now=timezone.now())
    lineages, audits, gained = [], [], []
    for n, scored in sorted(merges.items()):
        survivor = survivors[scored.candidate.pk]
        merged_id, moved, changed = rows.add(survivor, records[n], held[survivor.pk])
        fields = review_scored_fields(scored)
        lineages.append(
            {
                "survivor_id": survivor.pk,
                "merged_subject_id": merged_id,
                "method": "probabilistic",
                "confidence": scored.probability,
                "signals": fields["signals"],
                "source_id": getattr(source, "pk", None),
                "merged_by": actor.label,
                "moved_rows": moved,
                **{k: fields[k] for k in ("model_version", "weight", "explanation")},
            }
        )
        audits += _merge_audits(survivor, merged_id, changed, scored.probability)
        new_signals = {k: v for k, v, _c in records[n].attributes if k not in held[survivor.pk]}
        if any(matching.is_signal(k) for k in new_signals):
            gained.append((survivor, new_signals))
    profiles = _signal_values(gained)  # read before the write moves values to the survivors
    with transaction.atomic():
        rows.write()
        # Django's bulk_create sends each column as an array that psycopg quotes element by
        # element in Python (a second per chunk of JSON columns): one JSON text instead.
        rows_insert(MergeLineage, lineages)
        _match_profiles_replace(profiles)
        audit_append_many(actor=actor, entries=audits)


def _match_profiles_replace(gained: list[tuple[Subject, dict[str, str]]]) -> None:
    """New encodings and blocking keys for the survivors that gained a matching value: four
    statements (the keys through `rows_insert`, bound on the server on PostgreSQL)."""
    if not gained:
        return
    match_profiles_drop([subject.pk for subject, _values in gained])
    profiles, blocks = match_profile_rows(
        [(s, {k: v for k, v in values.items() if matching.is_signal(k)}) for s, values in gained]
    )
    rows_insert(
        MatchProfile, [{"subject_id": p.subject_id, "encodings": p.encodings} for p in profiles]
    )
    rows_insert(MatchBlock, [{"subject_id": b.subject_id, "key": b.key} for b in blocks])


def _signal_values(
    gained: list[tuple[Subject, dict[str, str]]],
) -> list[tuple[Subject, dict[str, str]]]:
    """Each survivor that gained matching values, with all its matching values: its own
    (decrypted under its cached key; one query for them all) and the gained ones. Only these
    survivors' attributes are loaded, not every survivor's."""
    if not gained:
        return []
    own: dict[uuid.UUID, dict[str, str]] = {subject.pk: {} for subject, _values in gained}
    by_pk = {subject.pk: subject for subject, _values in gained}
    rows = Attribute.objects.filter(
        subject_id__in=list(own), key__in=matching.ATTRIBUTE_KEYS
    ).order_by()
    for row in rows:
        row.subject = by_pk[row.subject_id]  # the survivor's cached key decrypts the value
        own[row.subject_id][row.key] = row.value
    return [(subject, own[subject.pk] | values) for subject, values in gained]


def _merge_audits(
    survivor: Subject, merged_id: uuid.UUID, changed: set[str], confidence: float
) -> list[dict[str, Any]]:
    """The audit events of a create-then-merge: create of the merged subject (the field
    names it brought), merge on both subjects."""
    base = {"object_type": "profiles.subject", "region": survivor.region}
    reason = f"probabilistic merge, confidence {confidence:.2f}"
    return [
        base
        | {"action": "profiles.subject.create", "object_id": merged_id, "subject_id": merged_id}
        | {"fields": changed},
        base
        | {"action": "profiles.subject.merge", "object_id": survivor.pk, "reason": reason}
        | {"subject_id": survivor.pk},
        base
        | {"action": "profiles.subject.merge", "object_id": merged_id, "reason": reason}
        | {"subject_id": merged_id},
    ]


def _sealed(model: type[models.Model], name: str, value: Any, row_id: uuid.UUID, owner: Subject):
    cipher, key_id = owner.data_cipher()
    return model._meta.get_field(name).seal(value, row_id=row_id, cipher=cipher, key_id=key_id)  # type: ignore[union-attr]


@dataclass
class _MergeRows:
    """Rows of a bulk merge, as column values (values encrypted under the survivor's key)."""

    source: System | None
    now: Any
    subjects: list[dict[str, Any]] = field(default_factory=list)
    identifiers: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, survivor: Subject, record: ParsedRecord, kept: set[str]
    ) -> tuple[uuid.UUID, dict[str, list[str]], set[str]]:
        """The merged subject's id, the rows moved to the survivor (per model, as a split
        reads them) and the field names the line brought."""
        merged_id = uuid.uuid4()
        self.subjects.append(
            {"id": merged_id, "region": survivor.region, "status": Subject.Status.MERGED}
            | {"merged_into_id": survivor.pk}
        )
        common = {"subject_id": survivor.pk, "source_id": self.source.pk if self.source else None}
        moved: dict[str, list[str]] = {"Identifier": [], "Attribute": [], "Event": []}
        changed: set[str] = set()
        for kind, normalized, index, verified in record.identifiers:
            pk = uuid.uuid4()
            self.identifiers.append(
                {"id": pk, **common, "kind": kind, "value_index": index, "verified": verified}
                | {"value": _sealed(Identifier, "value", normalized, pk, survivor)}
                | {"region": survivor.region}
            )
            moved["Identifier"].append(str(pk))
            changed.add(f"identifier.{kind}")
        for key, value, category in record.attributes:
            changed.add(f"attribute.{key}")
            if key in kept:
                continue  # the survivor keeps its own value
            pk = uuid.uuid4()
            self.attributes.append(
                {"id": pk, **common, "key": key, "category": category}
                | {"value": _sealed(Attribute, "value", value, pk, survivor)}
                | {"collected_at": self.now}
            )
            moved["Attribute"].append(str(pk))
        for name, payload, when in record.events:
            pk = uuid.uuid4()
            self.events.append(
                {"id": pk, **common, "name": name, "occurred_at": when}
                | {"payload": _sealed(Event, "payload", payload, pk, survivor)}
                | {"dedup_key": event_dedup_key(name, when, payload)}
            )
            moved["Event"].append(str(pk))
            changed.add("events")
        return merged_id, moved, changed

    def write(self) -> None:
        rows_insert(Subject, self.subjects)
        rows_insert(Identifier, self.identifiers)
        rows_insert(Attribute, self.attributes)
        rows_insert(Event, self.events, ignore_conflicts=True)
