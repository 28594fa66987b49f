"""Recompute the hash chain and report the first broken link."""

from __future__ import annotations

from dataclasses import dataclass

from audit.chain import CHAINED_FIELDS, GENESIS_HASH, link_hash
from audit.models import AuditEvent


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
        return (
            f"BROKEN at row id={self.broken_row_id} sequence={self.broken_sequence}: "
            f"{self.problem}; expected {self.expected}, found {self.found}"
        )


def parse_head(value: str) -> tuple[int, str]:
    """'SEQ:HASH' as published by `audit_head`."""
    sequence, _, digest = value.partition(":")
    if not sequence.isdigit() or len(digest) != 64:
        raise ValueError("a head is SEQUENCE:SHA256HEX, as printed by audit_head")
    return int(sequence), digest.lower()


def verify_chain(*, head: tuple[int, str] | None = None, batch_size: int = 5000) -> ChainReport:
    """Walk the whole chain in sequence order, in batches (constant memory).

    Detects: an edited row (its hash no longer matches its content), a deleted or inserted row
    (sequence gap or broken prev_hash link), and, given a published `head`, rows cut off the end
    or a rewritten tail.
    """
    columns = ("id", "prev_hash", "hash", *CHAINED_FIELDS)
    expected_prev = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    last_sequence = 0
    head_matched = head is None
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
        if head is not None and sequence == head[0]:
            if row["hash"] != head[1]:
                return _broken(
                    row, checked, "differs from the published head", head[1], row["hash"]
                )
            head_matched = True
        expected_prev = row["hash"]
        expected_sequence = sequence + 1
        last_sequence = sequence
        checked += 1
    if not head_matched:
        return ChainReport(
            ok=False,
            checked=checked,
            head_sequence=last_sequence,
            head_hash=expected_prev,
            broken_sequence=head[0],
            expected=f"{head[0]}:{head[1]}",
            found=f"{last_sequence}:{expected_prev}",
            problem="the published head is missing: rows were cut off the end of the chain",
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
