"""Recompute the hash chain and report the first broken link."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit.chain import CHAINED_FIELDS, GENESIS_HASH, link_hash
from audit.models import AuditEvent


@dataclass(frozen=True)
class Head:
    """A published chain head and where it was kept (the database, a file, the command line)."""

    sequence: int
    hash: str
    source: str

    def __str__(self) -> str:
        return f"{self.sequence}:{self.hash}"


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_sequence: int
    head_hash: str
    broken_row_id: int | None = None
    broken_sequence: int | None = None
    expected: str = ""
    found: str = ""
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"OK {self.checked} events, head {self.head_sequence}:{self.head_hash}"
        if self.broken_row_id is None:
            return f"BROKEN: {self.problem}; expected head {self.expected}, found {self.found}"
        return (
            f"BROKEN at row id={self.broken_row_id} sequence={self.broken_sequence}: "
            f"{self.problem}; expected {self.expected}, found {self.found}"
        )


def parse_head(value: str, *, source: str) -> Head:
    """'SEQ:HASH' as published by `audit_head`."""
    sequence, _, digest = value.strip().partition(":")
    if not sequence.isdigit() or len(digest) != 64:
        raise ValueError(f"a head is SEQUENCE:SHA256HEX, as printed by audit_head ({source})")
    return Head(sequence=int(sequence), hash=digest.lower(), source=source)


def verify_chain(*, heads: Sequence[Head] = (), batch_size: int = 5000) -> ChainReport:
    """Walk the whole chain in sequence order, in batches (constant memory).

    Detects: an edited row (its hash no longer matches its content), a deleted or inserted row
    (sequence gap or broken prev_hash link), and, against every published head given, a rewritten
    tail (the row at the head's sequence has another hash) or rows cut off the end (the chain,
    even an empty one, ends before a head).
    """
    columns = ("id", "prev_hash", "hash", *CHAINED_FIELDS)
    by_sequence: dict[int, list[Head]] = {}
    for head in heads:
        by_sequence.setdefault(head.sequence, []).append(head)
    expected_prev = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    last_sequence = 0
    rows = AuditEvent.objects.order_by("sequence").values(*columns).iterator(chunk_size=batch_size)
    for row in rows:
        sequence = row["sequence"]
        if sequence != expected_sequence:
            return _broken(
                row,
                checked,
                f"sequence gap (missing row {expected_sequence})",
                str(expected_sequence),
                str(sequence),
            )
        if row["prev_hash"] != expected_prev:
            return _broken(
                row, checked, "previous-hash link broken", expected_prev, row["prev_hash"]
            )
        recomputed = link_hash(row["prev_hash"], {name: row[name] for name in CHAINED_FIELDS})
        if recomputed != row["hash"]:
            return _broken(row, checked, "content does not match its hash", recomputed, row["hash"])
        for head in by_sequence.get(sequence, ()):
            if row["hash"] != head.hash:
                problem = f"differs from the head published in {head.source}"
                return _broken(row, checked, problem, head.hash, row["hash"])
        expected_prev = row["hash"]
        expected_sequence = sequence + 1
        last_sequence = sequence
        checked += 1
    beyond = [head for head in heads if head.sequence > last_sequence]
    if beyond:
        head = max(beyond, key=lambda h: h.sequence)
        return ChainReport(
            ok=False,
            checked=checked,
            head_sequence=last_sequence,
            head_hash=expected_prev,
            broken_sequence=head.sequence,
            expected=str(head),
            found=f"{last_sequence}:{expected_prev}",
            problem=(
                f"the chain ends at sequence {last_sequence}, short of head {head.sequence} "
                f"published in {head.source}: rows were cut off the end of the chain"
            ),
        )
    return ChainReport(
        ok=True, checked=checked, head_sequence=last_sequence, head_hash=expected_prev
    )


def _broken(row: dict, checked: int, problem: str, expected: str, found: str) -> ChainReport:
    return ChainReport(
        ok=False,
        checked=checked,
        head_sequence=row["sequence"],
        head_hash=row["hash"],
        broken_row_id=row["id"],
        broken_sequence=row["sequence"],
        expected=expected,
        found=found,
        problem=problem,
    )
