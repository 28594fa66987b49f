"""One chunk of parsed records upserted as upserting them one by one would, set-based where
the outcome is certain: the path of bulk NDJSON imports and of the sources' inbox drains."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import IntegrityError, transaction

from audit.actors import Actor
from core.errors import DomainError
from profiles.models import System
from profiles.services.ingest import (
    SUPPRESSED_MESSAGE,
    IdentitySuppressed,
    ParsedRecord,
    subject_upsert_parsed,
)
from profiles.services.ingest_batch import (
    ChunkRaced,
    subjects_upsert_batch,
    suppressed_among,
    upsert_partition,
)
from profiles.services.ingest_match import chunk_matches_plan, chunk_matches_write

Outcome = uuid.UUID | DomainError


def records_ingest(
    records: Sequence[ParsedRecord], *, actor: Actor, source: System | None = None
) -> list[Outcome]:
    """Upsert `records` in their order: refuse those carrying an erased (suppressed)
    identity, write the certainly-new people and certain updates together
    (`subjects_upsert_batch`), the lines the model merges into a known person or proposes for
    review too (`chunk_matches_write`), then the ambiguous ones one by one in their order (all
    of them one by one when a concurrent writer got to one of the bulk rows first). Returns,
    per record, the subject it was written to (the survivor, after a merge) or the DomainError
    that refused it; any other error is raised (roll the chunk back). Call inside a
    transaction."""
    outcomes: list[Outcome | None] = [None] * len(records)
    for n in suppressed_among(records):
        outcomes[n] = IdentitySuppressed(SUPPRESSED_MESSAGE)
    kept = [n for n, outcome in enumerate(outcomes) if outcome is None]
    chunk = [records[n] for n in kept]
    plan = upsert_partition(chunk)
    decided = chunk_matches_plan(chunk, plan)
    slow = plan.slow
    try:
        with transaction.atomic():
            ids = subjects_upsert_batch(records=chunk, plan=plan, actor=actor, source=source)
            created = dict(zip(plan.fast, ids, strict=True))
            chunk_matches_write(
                records=chunk, decided=decided, created=created, actor=actor, source=source
            )
            if suppressed_among(chunk):  # an erasure committed since the check: line by line
                raise ChunkRaced("an identity of the chunk was suppressed meanwhile")
        for n, subject_id in created.items():
            outcomes[kept[n]] = subject_id
        for n, best in decided.merges.items():
            outcomes[kept[n]] = best.candidate.pk
    except IntegrityError:
        slow = sorted(plan.fast + plan.slow + list(decided.merges))
    for n in slow:
        try:
            with transaction.atomic():
                result = subject_upsert_parsed(chunk[n], actor=actor, source=source)
            outcomes[kept[n]] = result.subject_id
        except DomainError as exc:
            outcomes[kept[n]] = exc
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]
