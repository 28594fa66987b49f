"""Identity resolution rules: which attributes count as matching signals and how much."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from profiles.crypto.blind_index import blind_index, normalize

# Probabilistic signals and their weights (sum = 1.0): all three agree -> 1.0 (auto-merge),
# name + birth date -> 0.75 and name + postcode -> 0.65 (review), a single signal -> below review.
MATCH_WEIGHTS: dict[str, float] = {"name": 0.4, "birth_date": 0.35, "postcode": 0.25}


def match_index(key: str, value: str) -> str:
    """Blind index of a matching attribute, '' for attributes that are not signals."""
    if key not in MATCH_WEIGHTS or not str(value).strip():
        return ""
    return blind_index(f"attr:{key}", normalize(key, value))


def score(signals: set[str]) -> float:
    return round(sum(MATCH_WEIGHTS[name] for name in signals), 4)


def best_scores(
    signals_per_record: Sequence[set[tuple[str, str]]],
    holders: Mapping[tuple[str, str], set[uuid.UUID]],
) -> list[float]:
    """Set-based scoring for a batch of records (bulk import): for each record's matching
    signals, (attribute key, `match_index`) pairs, the best `score` any existing subject
    reaches against it, 0.0 when none holds a signal. `holders` maps each signal of the batch
    to the active subjects holding it (one query for the whole batch, made by the caller).
    Same result as scoring each record's candidates one by one; reimplement it alongside
    `match_index` and `score` when the matching model changes."""
    best = []
    for signals in signals_per_record:
        keys_by_subject: dict[uuid.UUID, set[str]] = {}
        for key, index in signals:
            for subject_id in holders.get((key, index), ()):
                keys_by_subject.setdefault(subject_id, set()).add(key)
        best.append(max((score(keys) for keys in keys_by_subject.values()), default=0.0))
    return best
