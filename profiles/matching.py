"""Identity resolution rules: which attributes count as matching signals and how much."""

from __future__ import annotations

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
