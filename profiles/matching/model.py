"""The Fellegi-Sunter model on keyed encodings: comparison levels per field, m and u
probabilities, match weights (log2 likelihood ratios), EM estimation and thresholds set for a
target precision. Pure functions over encodings; no database."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from profiles.matching.encoding import dice

NULL = -1  # a field missing on either side: no evidence either way (weight 0)

# Comparison levels per field, from the strongest agreement to disagreement (the last level).
LEVELS: dict[str, list[str]] = {
    "first_name": ["exact", "bloom dice >= 0.9", "bloom dice >= 0.7", "phonetic equal", "else"],
    "last_name": ["exact", "bloom dice >= 0.9", "bloom dice >= 0.7", "phonetic equal", "else"],
    "birth_date": ["exact", "day/month transposed", "two of year, month, day equal", "else"],
    "postcode": ["exact", "first three characters equal", "else"],
    "address": ["exact", "bloom dice >= 0.9", "bloom dice >= 0.7", "else"],
    "city": ["exact", "bloom dice >= 0.8", "else"],
}
FIELDS = list(LEVELS)
# Field groups: a proposal needs evidence from two of them (a name alone never proposes).
GROUPS = {
    "first_name": "name",
    "last_name": "name",
    "birth_date": "date",
    "postcode": "place",
    "address": "place",
    "city": "place",
}

# Starting values before any estimation (version 0): agreement is likely among true matches
# and rare among non-matches; EM replaces them with values learned from the data.
PRIOR_M = {
    "first_name": [0.85, 0.05, 0.04, 0.02, 0.04],
    "last_name": [0.85, 0.05, 0.04, 0.02, 0.04],
    "birth_date": [0.88, 0.02, 0.06, 0.04],
    "postcode": [0.88, 0.04, 0.08],
    "address": [0.8, 0.08, 0.06, 0.06],
    "city": [0.85, 0.07, 0.08],
}
PRIOR_U = {
    "first_name": [0.005, 0.002, 0.01, 0.01, 0.973],
    "last_name": [0.002, 0.001, 0.008, 0.01, 0.979],
    "birth_date": [0.0002, 0.0001, 0.004, 0.9957],
    "postcode": [0.002, 0.02, 0.978],
    "address": [0.0005, 0.0005, 0.004, 0.995],
    "city": [0.005, 0.005, 0.99],
}
PRIOR_LAMBDA = 0.0001


def _text_level(a: dict[str, str], b: dict[str, str], cuts: list[float], phonetic: bool) -> int:
    if a["x"] == b["x"]:
        return 0
    similarity = dice(a["bf"], b["bf"])
    for n, cut in enumerate(cuts, start=1):
        if similarity >= cut:
            return n
    if phonetic and (a["p1"] == b["p1"] or a["p2"] == b["p2"]):
        return len(cuts) + 1
    return len(cuts) + 1 + int(phonetic)


def _date_level(a: dict[str, str], b: dict[str, str]) -> int:
    if a["x"] == b["x"]:
        return 0
    if a["x"] == b["t"]:
        return 1
    if sum(a[k] == b[k] for k in ("ym", "yd", "md")) >= 1:
        return 2
    return 3


def compare(a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]) -> list[int]:
    """The comparison vector of two subjects' encodings: one level index per field."""
    vector = []
    for name in FIELDS:
        x, y = a.get(name), b.get(name)
        if not x or not y:
            vector.append(NULL)
        elif name in ("first_name", "last_name"):
            vector.append(_text_level(x, y, [0.9, 0.7], phonetic=True))
        elif name == "address":
            vector.append(_text_level(x, y, [0.9, 0.7], phonetic=False))
        elif name == "city":
            vector.append(_text_level(x, y, [0.8], phonetic=False))
        elif name == "birth_date":
            vector.append(_date_level(x, y))
        else:
            vector.append(0 if x["x"] == y["x"] else 1 if x["pre"] == y["pre"] else 2)
    return vector


@dataclass
class Parameters:
    """m, u per field and level (u as among random pairs), the prior match probability of a
    record and one existing subject (so it holds for any population of about that size, not
    only the one estimated on), and the two thresholds (as match weights)."""

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    lam: float
    auto_merge: float
    review: float

    @classmethod
    def prior(cls, *, target_precision: float, review_floor: float) -> Parameters:
        m = {k: list(v) for k, v in PRIOR_M.items()}
        u = {k: list(v) for k, v in PRIOR_U.items()}
        return cls(m, u, PRIOR_LAMBDA, logit(target_precision), logit(review_floor))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Parameters:
        return cls(data["m"], data["u"], data["lambda"], data["auto_merge"], data["review"])

    def as_json(self) -> dict[str, Any]:
        return {
            "m": self.m,
            "u": self.u,
            "lambda": self.lam,
            "auto_merge": self.auto_merge,
            "review": self.review,
            "levels": LEVELS,
        }

    def level_weights(self) -> dict[str, list[float]]:
        """log2(m / u) per field and level, computed once per (m, u) (every pair scored)."""
        key = (id(self.m), id(self.u))
        cached = self.__dict__.get("_level_weights")
        if cached is None or cached[0] != key:
            weights = {
                f: [math.log2(m / u) for m, u in zip(self.m[f], self.u[f], strict=True)]
                for f in FIELDS
            }
            cached = self.__dict__["_level_weights"] = (key, weights)
        return cached[1]

    def weight(self, vector: list[int]) -> float:
        """Match weight: log2 prior odds plus the log2 likelihood ratio of each level."""
        weights = self.level_weights()
        total = logit(self.lam)
        for name, level in zip(FIELDS, vector, strict=True):
            if level != NULL:
                total += weights[name][level]
        return total

    def explain(self, vector: list[int]) -> list[dict[str, Any]]:
        """Per field: the comparison level and its weight (what an officer sees)."""
        weights = self.level_weights()
        rows: list[dict[str, Any]] = [
            {"field": "prior", "level": "prior odds", "weight": round(logit(self.lam), 2)}
        ]
        for name, level in zip(FIELDS, vector, strict=True):
            if level == NULL:
                rows.append({"field": name, "level": "missing", "weight": 0.0})
            else:
                rows.append(
                    {
                        "field": name,
                        "level": LEVELS[name][level],
                        "weight": round(weights[name][level], 2),
                    }
                )
        return rows


def groups_compared(vector: list[int]) -> int:
    return len({GROUPS[f] for f, level in zip(FIELDS, vector, strict=True) if level != NULL})


def probability(weight: float) -> float:
    return 1.0 / (1.0 + 2.0 ** (-weight))


def logit(p: float) -> float:
    return math.log2(p / (1.0 - p))


def level_frequencies(vectors: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """Frequency of each level per field among these vectors (nulls ignored), smoothed."""
    out = {}
    w = np.ones(len(vectors)) if weights is None else weights
    for j, name in enumerate(FIELDS):
        column = vectors[:, j] if len(vectors) else np.zeros(0, dtype=int)
        counts = np.array([w[column == n].sum() for n in range(len(LEVELS[name]))]) + 0.5
        out[name] = list((counts / counts.sum()).astype(float))
    return out


def _log_likelihood(vectors: np.ndarray, probs: dict[str, list[float]]) -> np.ndarray:
    total = np.zeros(len(vectors))
    for j, name in enumerate(FIELDS):
        table = np.log2(np.array(probs[name]))
        column = vectors[:, j]
        present = column != NULL
        total[present] += table[column[present]]
    return total


def estimate(
    vectors: np.ndarray,
    *,
    start: Parameters,
    labels: np.ndarray | None = None,
    u_fixed: dict[str, list[float]] | None = None,
    iterations: int = 50,
) -> Parameters:
    """EM for m, u and lambda over comparison vectors (rows of level indexes). Labelled rows
    (`labels` 1 = match, 0 = non-match, -1 = unlabelled) keep their label as responsibility,
    so officers' decisions pull the weights; `u_fixed` (from random pairs) keeps u fixed."""
    m, u, lam = start.m, u_fixed or start.u, start.lam
    known = labels if labels is not None else np.full(len(vectors), -1)
    for _ in range(iterations):
        log_odds = logit(lam) + _log_likelihood(vectors, m) - _log_likelihood(vectors, u)
        resp = 1.0 / (1.0 + np.exp2(-np.clip(log_odds, -60, 60)))
        resp = np.where(known >= 0, known, resp)
        new_lam = float(np.clip(resp.mean(), 1e-6, 1 - 1e-6))
        m = level_frequencies(vectors, resp)
        if u_fixed is None:
            u = level_frequencies(vectors, 1.0 - resp)
        if abs(new_lam - lam) < 1e-7:
            lam = new_lam
            break
        lam = new_lam
    return Parameters(m, u, lam, start.auto_merge, start.review)


def thresholds(
    params: Parameters, vectors: np.ndarray, *, target_precision: float, target_recall: float
) -> tuple[float, float]:
    """Auto-merge: a pair whose match probability reaches the target precision (so auto-merges
    are at least that precise in expectation). Review: the lowest weight still needed to keep
    `target_recall` of the expected matches among these pairs, never above auto-merge."""
    auto = logit(target_precision)
    if not len(vectors):
        return auto, params.review
    weights = np.sort(np.array([params.weight(list(v)) for v in vectors]))[::-1]
    expected = 1.0 / (1.0 + np.exp2(-np.clip(weights, -60, 60)))
    share = np.cumsum(expected) / max(expected.sum(), 1e-12)
    cut = int(np.searchsorted(share, target_recall))
    review = float(weights[min(cut, len(weights) - 1)])
    return auto, min(review, auto)
