"""Keyed fuzzy encodings of matching attributes, computed at write time from normalized values.

Every encoding is keyed by a sub-key derived from the blind-index key (HMAC, one sub-key per
field and purpose), so without that key nobody can compute the encoding of a guessed value:
- exact indexes: HMAC of the normalized value (names, postcode, city, dates and date parts);
- phonetic codes: HMAC of Soundex and NYSIIS codes (names), for "sounds the same";
- q-gram Bloom filters (CLK style): the padded bigrams of a value, each set at `BLOOM_K`
  positions drawn from an HMAC of the bigram (random hashing, not double hashing), in
  `BLOOM_BITS` bits, then xor-folded in half (hardening), so Dice similarity of two filters
  approximates the bigram similarity of the values without revealing them;
- blocking keys: HMACs of combinations (phonetic codes, date with day and month unordered,
  postcode), truncated, to find candidates without comparing against everyone.
See docs/encryption.md for the threat model."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import jellyfish

from profiles.crypto.keyring import blind_index_key

BLOOM_BITS = 512  # before folding; stored filters have BLOOM_BITS // 2 bits
BLOOM_K = 12
NAME_FIELDS = ("first_name", "last_name")
TEXT_FIELDS = ("address", "city")
ATTRIBUTE_KEYS = ("name", "first_name", "last_name", "birth_date", "postcode", "address", "city")
_INDEX_CHARS = 24  # 96-bit truncated HMACs: no collisions at our scale, less to store
_BLOCK_CHARS = 32


@lru_cache(maxsize=128)
def _subkey(master: bytes, label: str) -> bytes:
    return hmac.new(master, f"custodia|match|v1|{label}".encode(), hashlib.sha256).digest()


def _key(label: str) -> bytes:
    return _subkey(blind_index_key(), label)


@lru_cache(maxsize=256)
def _keyed_state(key: bytes) -> hmac.HMAC:
    # The keyed HMAC state is computed once per sub-key and copied per value (same digest).
    return hmac.new(key, digestmod=hashlib.sha256)


# Within `encode_many`: the keyed values already computed for that batch, so a first name,
# postcode or date part that recurs is hashed once. Dropped when the batch is encoded: no
# plaintext is kept beyond the call that had it anyway.
_memo: contextvars.ContextVar[dict[tuple[str, bytes, str, int], str] | None] = (
    contextvars.ContextVar("matching_encoding_memo", default=None)
)


@contextlib.contextmanager
def _memoized() -> Iterator[None]:
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def _once(entry: tuple[str, bytes, str, int], compute: Callable[[], str]) -> str:
    """`compute()`, or its value already computed for `entry` within `encode_many`."""
    memo = _memo.get()
    if memo is None:
        return compute()
    found = memo.get(entry)
    if found is None:
        found = memo[entry] = compute()
    return found


def keyed(label: str, value: str, chars: int = _INDEX_CHARS) -> str:
    """HMAC of `value` under the sub-key of `label` (hex, truncated)."""
    key = _key(label)
    return _once(("k", key, value, chars), lambda: _digest(key, value, chars))


def _digest(key: bytes, value: str, chars: int) -> str:
    mac = _keyed_state(key).copy()
    mac.update(value.encode())
    return mac.hexdigest()[:chars]


def clean_text(value: str) -> str:
    """Casefolded, accents stripped, letters, digits and single spaces only."""
    text = unicodedata.normalize("NFKD", str(value)).casefold()
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w ]+", " ", text).replace("_", " ").split())


def clean_date(value: str) -> tuple[str, str, str] | None:
    """(year, month, day) of an ISO (1988-04-12), compact (19880412) or day-first
    (12/04/1988) date, as written (not validated: a typo is still a comparable value)."""
    text = str(value).strip()
    digits = re.sub(r"\D", "", text)
    if re.fullmatch(r"\d{4}\D\d{1,2}\D\d{1,2}", text):
        y, m, d = re.split(r"\D", text)
        return y, m.zfill(2), d.zfill(2)
    if re.fullmatch(r"\d{1,2}\D\d{1,2}\D\d{4}", text):
        d, m, y = re.split(r"\D", text)
        return y, m.zfill(2), d.zfill(2)
    if len(digits) == 8:
        return digits[:4], digits[4:6], digits[6:]
    return None


def bloom(label: str, value: str) -> str:
    """Keyed bigram Bloom filter of `value`, xor-folded to BLOOM_BITS // 2 bits (hex)."""
    key = _key(f"bloom|{label}")
    return _once(("b", key, value, 0), lambda: _bloom(key, value))


def _bloom(key: bytes, value: str) -> str:
    padded = f"_{value}_"
    bits = 0
    for i in range(len(padded) - 1):
        bits |= _bigram_bits(key, padded[i : i + 2])
    half = BLOOM_BITS // 2
    folded = (bits >> half) ^ (bits & ((1 << half) - 1))
    return f"{folded:0{half // 4}x}"


@lru_cache(maxsize=1 << 16)
def _bigram_bits(key: bytes, bigram: str) -> int:
    """The BLOOM_K positions of one bigram under a Bloom sub-key, as a bit mask: bigrams repeat
    across values, so each is hashed once per process (bulk imports encode thousands of names;
    a field has a few thousand distinct bigrams, and two letters say nothing about a person)."""
    mac = _keyed_state(key).copy()
    mac.update(bigram.encode())
    digest = mac.digest()
    bits = 0
    for j in range(BLOOM_K):
        bits |= 1 << (int.from_bytes(digest[2 * j : 2 * j + 2], "big") % BLOOM_BITS)
    return bits


def dice(a: str, b: str) -> float:
    """Dice similarity of two hex Bloom filters."""
    x, y = int(a, 16), int(b, 16)
    total = x.bit_count() + y.bit_count()
    return 2 * (x & y).bit_count() / total if total else 0.0


@dataclass
class Encoded:
    """A subject's keyed encodings (stored as JSON) and its blocking keys."""

    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    blocks: list[str] = field(default_factory=list)


def _split_name(attributes: dict[str, str]) -> dict[str, str]:
    first = clean_text(attributes.get("first_name", ""))
    last = clean_text(attributes.get("last_name", ""))
    full = clean_text(attributes.get("name", ""))
    if full and not (first or last):
        parts = full.split()
        first, last = " ".join(parts[:-1]), parts[-1]
    return {"first_name": first, "last_name": last}


def _name(label: str, value: str) -> dict[str, str]:
    compact = value.replace(" ", "")
    return {
        "x": keyed(f"x|{label}", value),
        "p1": keyed(f"soundex|{label}", jellyfish.soundex(compact)),
        "p2": keyed(f"nysiis|{label}", jellyfish.nysiis(compact)),
        "bf": bloom(label, value),
    }


def _date(parts: tuple[str, str, str]) -> dict[str, str]:
    y, m, d = parts
    return {
        "x": keyed("date|ymd", f"{y}-{m}-{d}"),
        "t": keyed("date|ymd", f"{y}-{d}-{m}"),  # the same key: a transposed date equals x
        "ym": keyed("date|ym", f"{y}-{m}"),
        "yd": keyed("date|yd", f"{y}-{d}"),
        "md": keyed("date|md", f"{m}-{d}"),
    }


def encode_many(many: Sequence[dict[str, str]]) -> list[Encoded]:
    """`encode` of each subject's matching attributes (an import chunk): a value that recurs
    in the batch (a common name, a postcode, a date part) is hashed once."""
    with _memoized():
        return [encode(attributes) for attributes in many]


def encode(attributes: dict[str, str]) -> Encoded:
    """The keyed encodings and blocking keys of a subject's matching attributes."""
    out = Encoded()
    names = _split_name(attributes)
    for label, value in names.items():
        if value:
            out.fields[label] = _name(label, value)
    date = clean_date(attributes.get("birth_date", ""))
    if date:
        out.fields["birth_date"] = _date(date)
    postcode = "".join(ch for ch in clean_text(attributes.get("postcode", "")) if ch.isalnum())
    if postcode:
        out.fields["postcode"] = {
            "x": keyed("postcode|x", postcode),
            "pre": keyed("postcode|prefix", postcode[:3]),
        }
    for label in TEXT_FIELDS:
        value = clean_text(attributes.get(label, ""))
        if value:
            out.fields[label] = {"x": keyed(f"x|{label}", value), "bf": bloom(label, value)}
    out.blocks = _blocks(names, date, postcode)
    return out


# Blocking rules over four signals: f (first-name Soundex), l (last-name Soundex), d (birth
# date, day and month unordered), p (postcode). Pairs, so one typo or missing value still leaves
# a shared key; and every triple, because any two pairs span three signals: a record sharing two
# pair keys with another shares a triple key too. Matching skips a pair key whose block is too
# common to read whole (`profiles.services.matching`), so a pair that agrees on three signals is
# still found through its triple key, and a block's size stays what it is at any population.
PAIR_RULES = ("fl", "fd", "ld", "dp", "lp", "fp")
TRIPLE_RULES = ("fld", "flp", "fdp", "ldp")


def block_keys(parts: dict[str, str]) -> list[str]:
    """The keyed blocking keys of a record's signals (`f`, `l`, `d`, `p`; missing ones absent
    or empty): one per rule whose signals are all present."""
    key = _key("block")  # one sub-key for the ten; no memo (a record's keys rarely recur)
    return sorted(
        _digest(key, f"{rule}|" + "|".join(parts[c] for c in rule), _BLOCK_CHARS)
        for rule in PAIR_RULES + TRIPLE_RULES
        if all(parts.get(c) for c in rule)
    )


def _blocks(names: dict[str, str], date: tuple[str, str, str] | None, postcode: str) -> list[str]:
    """Blocking keys of a record (see PAIR_RULES): keyed combinations of signals, never one
    signal alone."""
    first, last = names["first_name"].replace(" ", ""), names["last_name"].replace(" ", "")
    parts: dict[str, str] = {}
    if first:
        parts["f"] = jellyfish.soundex(first)
    if last:
        parts["l"] = jellyfish.soundex(last)
    if date:
        y, m, d = date
        parts["d"] = f"{y}-{min(m, d)}-{max(m, d)}"  # day and month unordered
    if postcode:
        parts["p"] = postcode
    return block_keys(parts)


def is_signal(key: str) -> bool:
    return key in ATTRIBUTE_KEYS
