"""Probabilistic matching on keyed encodings: match profiles written with the attributes,
candidates found by blocking, pairs scored by the current Fellegi-Sunter model, the model
re-estimated (EM on the data plus officers' decisions) into a new version.

The interface the ingest paths call: `match_profile_refresh` (one subject, after its
attributes changed), `match_profile_rows` (many new subjects, for bulk inserts) and
`match_candidates` (the scored candidates of one subject)."""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from audit.actors import Actor
from audit.services import audit_record
from core.bulk import any_of
from core.errors import ConflictError
from profiles.matching import encoding, model
from profiles.models import (
    Attribute,
    MatchBlock,
    MatchModel,
    MatchProfile,
    MatchReview,
    MergeLineage,
    Subject,
)

MAX_CANDIDATES = 40  # per record: the subjects sharing the most blocking keys


def block_max() -> int:
    """A blocking key shared with more subjects than this (the record's own subject aside) is
    common: it is skipped, not read in part (block purging). A pair that agrees on more than
    that key's two signals shares a triple key too (`encoding.TRIPLE_RULES`), so what is lost
    is a pair agreeing on two signals only, both common ones; in exchange the candidates read
    per record stay about as many among a million subjects as among ten thousand."""
    return settings.CUSTODIA_MATCH_BLOCK_MAX


MAX_BLOCK_FOR_TRAINING = 60  # pairs are formed within blocks up to this size


def proposes(vector: list[int], weight: float, threshold: float) -> bool:
    """A pair compared on at least two groups of fields and weighing at least `threshold`
    (the model's review or auto-merge weight)."""
    return weight >= threshold and model.groups_compared(vector) >= 2


@dataclass
class Scored:
    """A candidate pair under a model version: comparison vector, weight and probability."""

    candidate: Subject
    vector: list[int]
    weight: float
    probability: float
    version: int
    params: model.Parameters

    @property
    def proposable(self) -> bool:
        return proposes(self.vector, self.weight, self.params.review)

    @property
    def auto_merge(self) -> bool:
        return proposes(self.vector, self.weight, self.params.auto_merge)

    def explanation(self) -> list[dict[str, Any]]:
        return self.params.explain(self.vector)


def _targets() -> dict[str, float]:
    return {
        "target_precision": settings.CUSTODIA_MATCH_TARGET_PRECISION,
        "target_recall": settings.CUSTODIA_MATCH_TARGET_RECALL,
    }


def match_model_current() -> tuple[int, model.Parameters]:
    """The newest model version and its parameters (version 0: the built-in priors)."""
    row = MatchModel.objects.order_by("-version").first()
    if row is None:
        return 0, model.Parameters.prior(
            target_precision=settings.CUSTODIA_MATCH_TARGET_PRECISION,
            review_floor=settings.CUSTODIA_MATCH_REVIEW_FLOOR,
        )
    return row.version, model.Parameters.from_json(row.parameters)


def _signals_of(subject: Subject) -> dict[str, str]:
    rows = Attribute.objects.filter(subject=subject, key__in=encoding.ATTRIBUTE_KEYS)
    values = {}
    for row in rows.select_related("subject"):
        row.subject = subject  # the subject's cached key decrypts every value
        values[row.key] = row.value
    return values


def match_profile_refresh(
    subject: Subject, *, attributes: dict[str, str] | None = None
) -> MatchProfile:
    """Recompute the subject's keyed encodings and blocking keys from its attributes (call
    after they change, in the same transaction); `attributes`: all of its matching values,
    when the caller has them (a new subject), else they are read and decrypted."""
    encoded = encoding.encode(_signals_of(subject) if attributes is None else attributes)
    profile, _ = MatchProfile.objects.update_or_create(
        subject=subject, defaults={"encodings": encoded.fields}
    )
    MatchBlock.objects.filter(subject=subject).exclude(key__in=encoded.blocks).delete()
    have = set(MatchBlock.objects.filter(subject=subject).values_list("key", flat=True))
    MatchBlock.objects.bulk_create(
        [MatchBlock(subject=subject, key=k) for k in encoded.blocks if k not in have]
    )
    return profile


def match_profile_rows(
    subject_attributes: list[tuple[Subject, dict[str, str]]],
) -> tuple[list[MatchProfile], list[MatchBlock]]:
    """Unsaved profile and block rows of new subjects (for bulk_create next to their
    attributes)."""
    profiles, blocks = [], []
    for subject, attributes in subject_attributes:
        encoded = encoding.encode(attributes)
        profiles.append(MatchProfile(subject=subject, encodings=encoded.fields))
        blocks += [MatchBlock(subject=subject, key=k) for k in encoded.blocks]
    return profiles, blocks


def match_profile_drop(subject_id: uuid.UUID) -> None:
    """Forget a subject's encodings (merged away, erased)."""
    match_profiles_drop([subject_id])


def match_profiles_drop(subject_ids: list[uuid.UUID]) -> None:
    """Forget the encodings of many subjects (a batch of erasures): two statements."""
    MatchBlock.objects.filter(subject_id__in=subject_ids).delete()
    MatchProfile.objects.filter(subject_id__in=subject_ids).delete()


def _blocked(
    blocks_per_record: list[list[str]], exclude: list[uuid.UUID | None]
) -> list[list[str]]:
    """Per record: the subjects (hex ids) sharing one of its uncommon blocking keys, those
    sharing most first (at most MAX_CANDIDATES; their status is checked where their profiles
    are read). One query for all the records' keys."""
    holders = _holders({k for blocks in blocks_per_record for k in blocks})
    return [
        _candidates(blocks, holders, me.hex if me else None)
        for blocks, me in zip(blocks_per_record, exclude, strict=True)
    ]


def _candidates(blocks: list[str], holders: dict[str, list[str]], me: str | None) -> list[str]:
    """The subjects (hex ids, other than `me`) sharing the record's blocking keys that are not
    common (at most `block_max()` others), those sharing the most keys first, at most
    MAX_CANDIDATES."""
    limit = block_max()
    counts: dict[str, int] = {}
    for key in blocks:
        members = holders.get(key)
        if not members:
            continue
        others = len(members) - 1 if me in members else len(members)
        if others > limit:
            continue  # a common key: see block_max
        for subject_id in members:
            counts[subject_id] = counts.get(subject_id, 0) + 1
    if me is not None:
        counts.pop(me, None)
    return sorted(counts, key=lambda s: -counts[s])[:MAX_CANDIDATES]


def score_pair(
    mine: dict[str, Any], theirs: dict[str, Any], *, params: model.Parameters
) -> tuple[list[int], float]:
    vector = model.compare(mine, theirs)
    return vector, params.weight(vector)


def match_candidates_batch(
    records: list[encoding.Encoded], *, exclude: list[uuid.UUID | None] | None = None
) -> list[list[Scored]]:
    """The interface for set-based imports: the scored candidates (best first) of many
    records at once, from their encodings (`profiles.matching.encode` of each record's
    matching attributes): one query for the blocking keys' members (common keys skipped),
    then profiles and model in two queries.
    `exclude`: per record, a subject id to leave out (the record's own subject)."""
    version, params = match_model_current()
    ids = _blocked([r.blocks for r in records], exclude or [None] * len(records))
    others = {
        p.subject_id.hex: p
        for p in MatchProfile.objects.filter(
            subject_id__in=any_of({uuid.UUID(hex=i) for some in ids for i in some})
        ).select_related("subject")
    }
    result = []
    for record, candidates in zip(records, ids, strict=True):
        scored = []
        for candidate_id in candidates:
            other = others.get(candidate_id)
            if other is None or other.subject.status != Subject.Status.ACTIVE:
                continue
            vector, weight = score_pair(record.fields, other.encodings, params=params)
            scored.append(
                Scored(other.subject, vector, weight, model.probability(weight), version, params)
            )
        result.append(sorted(scored, key=lambda s: -s.weight))
    return result


@dataclass
class Contest:
    """What matching found for one line of an import chunk: the active subjects (other than
    the one its identities name) scoring at or above the review weight against it, best
    first, and whether another line of the same chunk could match it (`within`)."""

    scored: list[Scored] = field(default_factory=list)
    within: bool = False

    @property
    def contested(self) -> bool:
        return self.within or bool(self.scored)


def _holders(keys: set[str]) -> dict[str, list[str]]:
    """The subjects (hex ids) holding each blocking key, at most `block_max()` + 1 of them: a
    key with more is common for any record (skipped by `_candidates`) and not returned; one
    with exactly `block_max()` + 1 is common unless the record's own subject is among them.
    The members' status is checked where their profiles are read (merges and erasures drop
    the blocks of the subjects they end, so inactive members are rare). On PostgreSQL one
    query: a LIMIT per key on the (key, subject) index alone (LATERAL), a plan that does not
    depend on fresh statistics; on SQLite a correlated subquery with the same LIMIT per key.
    Ids stay hex strings until a candidate is kept (`match_contests_batch`): counting and
    comparing thousands of `uuid.UUID` objects costs more than the query."""
    holders: dict[str, list[str]] = {}
    if not keys:
        return holders
    read = block_max() + 2
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT b.key, encode(uuid_send(b.subject_id), 'hex') FROM "  # noqa: S608
            f"unnest(string_to_array(%s, ',')) AS k(key) "
            f"CROSS JOIN LATERAL (SELECT m.key, m.subject_id, count(*) OVER () AS n FROM "
            f"(SELECT key, subject_id FROM {MatchBlock._meta.db_table} WHERE key = k.key "
            f"LIMIT %s) m) b WHERE b.n < %s"
        )
        with connection.cursor() as cursor:  # the keys as one string, not thousands
            cursor.execute(sql, [",".join(sorted(keys)), read, read])
            for key, subject_id in cursor.fetchall():
                holders.setdefault(key, []).append(subject_id)
        return holders
    # SQLite has no LATERAL: a correlated subquery per key, with its LIMIT, on the key index
    # (a UUIDField is stored there as its 32 hex digits).
    sql = (
        f"SELECT k.value, (SELECT group_concat(subject_id) FROM (SELECT subject_id "  # noqa: S608
        f"FROM {MatchBlock._meta.db_table} WHERE key = k.value LIMIT %s)) FROM json_each(%s) k"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [read, json.dumps(sorted(keys))])
        for key, members in cursor.fetchall():
            ids = members.split(",") if members else []
            if 0 < len(ids) < read:
                holders[key] = ids
    return holders


def _profiles(ids: set[str]) -> dict[str, dict[str, Any]]:
    """The encodings of these subjects (hex ids) that have a match profile, in one query on
    the profile's primary key alone: the subject row (status, region) is read afterwards for
    the few candidates that reach the review weight (`_active_regions`)."""
    if not ids:
        return {}
    table = MatchProfile._meta.db_table
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT encode(uuid_send(subject_id), 'hex'), encodings::text FROM {table} "  # noqa: S608
            f"WHERE subject_id = ANY(string_to_array(%s, ',')::uuid[])"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [",".join(ids)])
            rows = cursor.fetchall()
    else:
        sql = (
            f"SELECT subject_id, encodings FROM {table} "  # noqa: S608
            f"WHERE subject_id IN (SELECT value FROM json_each(%s))"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [json.dumps(sorted(ids))])
            rows = cursor.fetchall()
    # Text on both (jsonb cast: psycopg's own text loader, not Django's Python one for jsonb).
    return {i: json.loads(e) for i, e in rows}


def _active_regions(ids: set[str]) -> dict[str, str]:
    """The region of each of these subjects (hex ids) that is active."""
    if not ids:
        return {}
    rows = (
        Subject.objects.filter(pk__in=any_of(uuid.UUID(hex=i) for i in ids))
        .order_by()
        .values_list("pk", "region", "status")
    )
    return {pk.hex: region for pk, region, status in rows if status == Subject.Status.ACTIVE}


def match_contests_batch(
    records: list[encoding.Encoded], named: list[uuid.UUID | None]
) -> list[Contest]:
    """For a set-based import chunk: per record, the blocked active subjects (other than
    `named`, the one its identities name) that score at or above the review weight against
    it under the current model, and whether another record of the chunk could match it.
    Records with neither are certainly new people or certain updates; the others are decided
    by `profiles.services.ingest_match`. At most four queries whatever the size: the model,
    the blocking keys' members, their profiles, and (if any scores at or above the review
    weight) the status and region of those that do."""
    version, params = match_model_current()
    holders = _holders({k for r in records for k in r.blocks})
    candidates = [
        _candidates(record.blocks, holders, me.hex if me else None)
        for record, me in zip(records, named, strict=True)
    ]
    encodings = _profiles({c for some in candidates for c in some})
    reaching: list[list[tuple[str, list[int], float]]] = []
    for record, some in zip(records, candidates, strict=True):
        found = []
        for c in some:
            theirs = encodings.get(c)
            if theirs is None:
                continue
            vector, weight = score_pair(record.fields, theirs, params=params)
            if proposes(vector, weight, params.review):
                found.append((c, vector, weight))  # most blocked candidates: not kept
        reaching.append(found)
    # The status is checked for the few that score high enough, not in the profiles' query:
    # a join there reads a subject row per candidate; and in Python, not in SQL (a status
    # condition makes SQLite walk every active subject by the status index).
    regions = _active_regions({c for found in reaching for c, _v, _w in found})
    contests = []
    for found in reaching:
        scored = [
            Scored(
                Subject(id=uuid.UUID(hex=c), region=regions[c], status=Subject.Status.ACTIVE),
                vector,
                weight,
                model.probability(weight),
                version,
                params,
            )
            for c, vector, weight in found
            if c in regions
        ]
        contests.append(Contest(sorted(scored, key=lambda s: -s.weight)))
    _contested_within(records, contests, params)
    return contests


def _contested_within(
    records: list[encoding.Encoded], contests: list[Contest], params: model.Parameters
) -> None:
    """Mark both records of a pair of the chunk that share an uncommon blocking key (as
    `_candidates` reads them: at most `block_max()` other records) and could match."""
    by_key: dict[str, list[int]] = {}
    for n, record in enumerate(records):
        for key in record.blocks:
            by_key.setdefault(key, []).append(n)
    seen: set[tuple[int, int]] = set()
    limit = block_max() + 1
    for members in by_key.values():
        if len(members) > limit:
            continue  # a common key: its pairs that could match share a triple key
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if (a, b) in seen or (contests[a].within and contests[b].within):
                    continue
                seen.add((a, b))
                vector, weight = score_pair(records[a].fields, records[b].fields, params=params)
                if proposes(vector, weight, params.review):
                    contests[a].within = contests[b].within = True


def match_candidates(subject: Subject) -> list[Scored]:
    """The subject's blocked candidates scored by the current model, best first."""
    profile = MatchProfile.objects.filter(subject=subject).first()
    if profile is None or not profile.encodings:
        return []
    blocks = list(MatchBlock.objects.filter(subject=subject).values_list("key", flat=True))
    record = encoding.Encoded(fields=profile.encodings, blocks=blocks)
    return match_candidates_batch([record], exclude=[subject.pk])[0]


def _blocked_pairs(limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Distinct pairs of active subjects sharing a blocking key (small blocks only)."""
    members: dict[str, list[uuid.UUID]] = {}
    for subject_id, key in MatchBlock.objects.filter(
        subject__status=Subject.Status.ACTIVE
    ).values_list("subject_id", "key"):
        members.setdefault(key, []).append(subject_id)
    pairs: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for ids in members.values():
        if 1 < len(ids) <= MAX_BLOCK_FOR_TRAINING:
            ids = sorted(ids)
            pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    return sorted(pairs)[:limit]


def _vectors(pairs: list[tuple[uuid.UUID, uuid.UUID]], encodings: dict) -> np.ndarray:
    rows = [model.compare(encodings[a], encodings[b]) for a, b in pairs]
    return np.array(rows, dtype=int).reshape(len(rows), len(model.FIELDS))


def _decided_vectors() -> tuple[list[list[int]], list[int]]:
    """Comparison vectors of pairs already decided: officers' decisions are labels (1 merge,
    0 different people); automatic merges not split since are unlabelled observations."""
    vectors, labels = [], []
    for review in MatchReview.objects.exclude(status=MatchReview.Status.PENDING).exclude(levels=[]):
        if review.decided_by.startswith(("merge", "model")):
            continue
        vectors.append(review.levels)
        labels.append(1 if review.status == MatchReview.Status.ACCEPTED else 0)
    for lineage in MergeLineage.objects.filter(method="probabilistic", split_at=None):
        vector = vector_of(lineage.explanation)
        if vector is not None:
            vectors.append(vector)
            labels.append(-1)
    return vectors, labels


def vector_of(explanation: list[dict[str, Any]]) -> list[int] | None:
    by_field = {row["field"]: row["level"] for row in explanation}
    if not all(f in by_field for f in model.FIELDS):
        return None
    return [
        model.NULL if by_field[f] == "missing" else model.LEVELS[f].index(by_field[f])
        for f in model.FIELDS
    ]


def _random_pairs(ids: list[uuid.UUID], n: int, seed: int = 0) -> list[tuple[uuid.UUID, uuid.UUID]]:
    rng = random.Random(seed)
    if len(ids) < 2:
        return []
    return [tuple(rng.sample(ids, 2)) for _ in range(n)]  # type: ignore[misc]


# Below this many compared pairs EM has nothing to separate: the estimate is refused rather
# than stored as a model whose weights are noise (or NaN, with no pair at all).
MIN_PAIRS_TO_ESTIMATE = 20


class ModelNotEstimable(ConflictError):
    """Too little data to estimate a new model version; the current one stays in force."""

    code = "not_enough_data"


def match_model_estimate(*, actor: Actor, max_pairs: int = 200_000) -> MatchModel:
    """A new model version estimated from the data and the labels: m by EM over blocked pairs
    plus decided pairs (officers' decisions keep their label), u from random pairs of active
    subjects, the prior from the share of records that are duplicates and the population size
    (`_random_pair_prior`), thresholds from the target precision and recall. Pending reviews
    are then re-scored (`match_reviews_rescore`). The new version records `actor` as its
    author and is audited with the figures it was judged on, never a value."""
    version, start = match_model_current()
    encodings = dict(
        MatchProfile.objects.filter(subject__status=Subject.Status.ACTIVE).values_list(
            "subject_id", "encodings"
        )
    )
    pairs = [p for p in _blocked_pairs(max_pairs) if p[0] in encodings and p[1] in encodings]
    blocked = _vectors(pairs, encodings)
    decided, labels = _decided_vectors()
    vectors = np.vstack([blocked, np.array(decided, dtype=int).reshape(-1, len(model.FIELDS))])
    if len(vectors) < MIN_PAIRS_TO_ESTIMATE or len(encodings) < 2:
        # No count of subjects: the message is shown to officers of some regions only.
        raise ModelNotEstimable(
            f"Not enough data to estimate a model: {len(vectors)} compared pair(s), at least "
            f"{MIN_PAIRS_TO_ESTIMATE} pairs needed; model v{version} stays in force."
        )
    known = np.concatenate([np.full(len(blocked), -1), np.array(labels, dtype=int)])
    randoms = _vectors(_random_pairs(list(encodings), 20_000), encodings)
    # EM separates matches from non-matches within the pool it sees (blocked and merged
    # pairs), u free: the pool's non-matches agree on blocking fields far more often than
    # random pairs do. Its mixing weight is the pool's, not a prior for any other population.
    pool = model.estimate(vectors, start=_em_start(start), labels=known)
    params = model.Parameters(pool.m, pool.u, pool.lam, start.auto_merge, start.review)
    if len(randoms) >= 1000:
        params.u = model.level_frequencies(randoms)
    params.lam = _random_pair_prior(pool, blocked, n_active=len(encodings))
    params.auto_merge, params.review = model.thresholds(params, vectors, **_targets())
    params.review = min(params.review, model.logit(settings.CUSTODIA_MATCH_REVIEW_FLOOR))
    evaluation = _evaluate(params, vectors, known, n_random=len(randoms))
    evaluation["pool_lambda"] = round(pool.lam, 4)
    if not _finite(params.as_json()):
        raise ModelNotEstimable(
            f"The estimate did not converge on {len(vectors)} compared pair(s); "
            f"model v{version} stays in force."
        )
    with transaction.atomic():
        row = MatchModel.objects.create(
            version=version + 1,
            parameters=params.as_json(),
            evaluation=evaluation,
            created_by=actor.label,
        )
        audit_record(
            actor=actor,
            action="profiles.match.model",
            object_type="profiles.matchmodel",
            object_id=row.version,
            fields=["m", "u", "lambda", "auto_merge", "review"],
            reason=(
                f"v{row.version} from {len(vectors)} compared pairs ({labels.count(1)} "
                f"labelled matches, {labels.count(0)} labelled non-matches); replaces "
                f"v{version}"
            ),
        )
    return row


def _finite(value: Any) -> bool:
    """No NaN or infinity anywhere in the parameters (JSON cannot hold them)."""
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _em_start(current: model.Parameters) -> model.Parameters:
    """EM's starting point: the current m and u, an even mixing weight (the pool holds the
    merged pairs: its share of matches is nothing like the prior of a random pair)."""
    return model.Parameters(current.m, current.u, 0.5, current.auto_merge, current.review)


def _random_pair_prior(pool: model.Parameters, blocked: np.ndarray, *, n_active: int) -> float:
    """The prior match probability of a record and one existing subject, the scale on which
    u (from random pairs) is measured: a record is a duplicate with probability `share`
    (records merged, plus the matches EM finds among the remaining blocked pairs, over all
    records), and then matches one of the `n_active` subjects. Blocking picks the candidates
    but adds no evidence: their agreement is counted once, by the levels' weights. Estimated
    on a population whose duplicates are already merged, it still holds for a fresh one
    (EM's own mixing weight would not: it is the share of matches in the pool it saw)."""
    merges = MergeLineage.objects.filter(method__in=["probabilistic", "review"], split_at=None)
    n_merges = merges.count()
    weights = np.array([pool.weight(list(v)) for v in blocked]) if len(blocked) else np.zeros(0)
    expected = float((1.0 / (1.0 + np.exp2(-np.clip(weights, -60, 60)))).sum())
    share = min((n_merges + expected) / max(n_active + n_merges, 1), 1.0)
    return float(np.clip(share / max(n_active, 2), 1e-9, 0.5))


def _evaluate(
    params: model.Parameters, vectors: np.ndarray, known: np.ndarray, *, n_random: int
) -> dict[str, Any]:
    """What the estimate rests on, and how it does on the labelled pairs."""
    weights = np.array([params.weight(list(v)) for v in vectors]) if len(vectors) else np.zeros(0)
    expected = 1.0 / (1.0 + np.exp2(-np.clip(weights, -60, 60)))
    result: dict[str, Any] = {
        "pairs": len(vectors),
        "random_pairs": n_random,
        "labelled": int((known >= 0).sum()),
        "expected_matches": round(float(expected.sum()), 1),
        "auto_merge_weight": round(params.auto_merge, 2),
        "review_weight": round(params.review, 2),
        **_targets(),
    }
    labelled = known >= 0
    if labelled.any():
        truth = known[labelled] == 1
        merged = weights[labelled] >= params.auto_merge
        proposed = weights[labelled] >= params.review
        result["labelled_auto_merge_precision"] = (
            round(float((truth & merged).sum() / merged.sum()), 4) if merged.any() else None
        )
        result["labelled_recall_with_review"] = (
            round(float((truth & proposed).sum() / truth.sum()), 4) if truth.any() else None
        )
    return result


def pair_rescore(review: MatchReview) -> Scored | None:
    """A pending review scored by the current model (None if a profile is gone)."""
    profiles = dict(
        MatchProfile.objects.filter(
            subject_id__in=[review.subject_id, review.candidate_id]
        ).values_list("subject_id", "encodings")
    )
    if len(profiles) < 2:
        return None
    version, params = match_model_current()
    vector, weight = score_pair(
        profiles[review.subject_id], profiles[review.candidate_id], params=params
    )
    return Scored(review.candidate, vector, weight, model.probability(weight), version, params)


def review_scored_fields(scored: Scored) -> dict[str, Any]:
    """The fields a MatchReview or a merge keeps about the score that made it."""
    explanation = scored.explanation()
    return {
        "score": round(scored.probability, 6),
        "weight": round(scored.weight, 3),
        "model_version": scored.version,
        "levels": scored.vector,
        "explanation": explanation,
        "signals": [
            row["field"] for row in explanation if row["field"] != "prior" and row["weight"] > 0
        ],
    }


def match_profiles_reencode(
    *, actor: Actor, after: uuid.UUID | None = None, batch_size: int = 500
) -> uuid.UUID | None:
    """Recompute the encodings of a batch of active subjects from their decrypted attributes
    (after a change of the blind-index key or of the encodings), in primary-key order from
    `after`. The batch is audited once (`profiles.match.reencode`: how many subjects, no
    values). Returns the last subject done, None when there is nothing left."""
    if batch_size < 1:
        raise ValueError("the batch size must be at least 1")
    subjects = Subject.objects.filter(status=Subject.Status.ACTIVE).order_by("pk")
    if after is not None:
        subjects = subjects.filter(pk__gt=after)
    last, done = None, 0
    for subject in subjects[:batch_size]:
        with transaction.atomic():
            match_profile_refresh(subject)
        last, done = subject.pk, done + 1
    if done:
        audit_record(
            actor=actor,
            action="profiles.match.reencode",
            object_type="profiles.matchprofile",
            object_id=str(last),
            reason=f"recomputed the match encodings of {done} subjects up to this one",
        )
    return last
