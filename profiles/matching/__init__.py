"""Identity resolution on keyed encodings: which attributes are matching signals, how they are
encoded without plaintext (`encoding`) and how pairs are scored (`model`, Fellegi-Sunter)."""

from __future__ import annotations

from profiles.matching.encoding import ATTRIBUTE_KEYS, Encoded, encode, encode_many, is_signal

__all__ = ["ATTRIBUTE_KEYS", "Encoded", "encode", "encode_many", "is_signal"]
