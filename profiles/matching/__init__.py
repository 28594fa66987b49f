"""Identity resolution on keyed encodings: which attributes are matching signals, how they are
encoded without plaintext (`encoding`) and how pairs are scored (`model`, Fellegi-Sunter)."""

from __future__ import annotations

from profiles.crypto.blind_index import blind_index, normalize
from profiles.matching.encoding import ATTRIBUTE_KEYS, Encoded, encode, is_signal

__all__ = ["ATTRIBUTE_KEYS", "Encoded", "encode", "is_signal", "match_index"]


def match_index(key: str, value: str) -> str:
    """Exact blind index of a matching attribute, '' for attributes that are not signals (a
    quick pre-filter for bulk imports: records sharing none are certainly new people)."""
    if key not in ATTRIBUTE_KEYS or not str(value).strip():
        return ""
    kind = "name" if key in ("name", "first_name", "last_name") else key
    kind = kind if kind in ("name", "postcode", "birth_date") else "name"
    return blind_index(f"attr:{key}", normalize(kind, value))
