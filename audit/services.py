"""Appending to the audit chain. Call inside the same transaction as the change it records."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.chain import GENESIS_HASH, link_hash
from audit.models import AuditAlert, AuditEvent, PublishedHead
from audit.verify import ChainReport, verify_chain
from core.bulk import rows_insert

# Contact details typed into a free-text reason (an officer's "called jane@example.org back"):
# an audit row outlives every erasure (the chain cannot forget), so they are never stored.
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[^\s@<>()\[\],;:\"'.]{2,}")
_PHONE = re.compile(r"(?<![\w+])\+[\d\s().-]{8,}\d")  # international form: + and 9+ digits


def reason_redacted(reason: str) -> str:
    """`reason` with e-mail addresses and international phone numbers replaced by what they
    were ("[e-mail address]", "[phone number]"); the rest (references such as DSR-2026-000123,
    ticket numbers) kept as typed."""
    if "@" in reason:
        reason = _EMAIL.sub("[e-mail address]", reason)
    if "+" in reason:
        reason = _PHONE.sub(
            lambda m: "[phone number]" if sum(c.isdigit() for c in m[0]) >= 9 else m[0], reason
        )
    return reason


# Key of the PostgreSQL transaction-scoped advisory lock that serializes appends.
_CHAIN_LOCK_KEY = 0x637573746F6469  # "custodi"


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | uuid.UUID,
    subject_id: uuid.UUID | str | None = None,
    region: str = "",
    fields: Iterable[str] = (),
    reason: str = "",
) -> AuditEvent:
    """Append one event to the chain, atomically and serialized with every other append.

    Guarantees: the event is committed with the caller's transaction or not at all; two
    concurrent appends never share a predecessor. `fields` are field *names*; never pass values.
    """
    return audit_record_many(
        actor=actor,
        entries=[
            {
                "action": action,
                "object_type": object_type,
                "object_id": object_id,
                "subject_id": subject_id,
                "region": region,
                "fields": fields,
                "reason": reason,
            }
        ],
    )[0]


def audit_subject_action(
    *,
    actor: Actor,
    action: str,
    subject: Any,
    fields: Iterable[str] = (),
    reason: str = "",
) -> AuditEvent:
    """Append one event about a data subject (a profiles Subject: anything with `pk` and
    `region`): the subject is the object, its id and region are recorded for scoped audit
    views. `fields` are field *names*, never values."""
    return audit_record(
        actor=actor,
        action=action,
        object_type="profiles.subject",
        object_id=subject.pk,
        subject_id=subject.pk,
        region=subject.region,
        fields=fields,
        reason=reason,
    )


_pending = threading.local()


@contextlib.contextmanager
def audit_batch() -> Iterator[None]:
    """Collect every append made inside the block and write them together when it ends: one
    lock, one read of the head, one insert for a batch of pipeline steps. Enter it inside the
    transaction of the changes it records (the appends commit with them or not at all); the
    events returned inside the block are not saved yet. Nested blocks write at the outermost."""
    if getattr(_pending, "entries", None) is not None:
        yield
        return
    _pending.entries = []
    try:
        yield
        entries, _pending.entries = _pending.entries, None
        if entries:
            _write(entries)
    finally:
        _pending.entries = None


def audit_record_many(*, actor: Actor, entries: list[dict]) -> list[AuditEvent]:
    """Append several events by one actor in one go: one lock, one read of the head, one
    insert; same guarantees as `audit_record`. Each entry holds the keyword arguments of
    `audit_record` other than `actor`. Returns the saved events (`audit_append_many` writes
    the same rows faster when the caller does not need them)."""
    pairs = [(actor, entry) for entry in entries]
    buffered = getattr(_pending, "entries", None)
    if buffered is not None:
        buffered.extend(pairs)
        return [AuditEvent(**_values(actor, entry, 0, timezone.now())) for entry in entries]
    return _append(pairs)


def audit_append_many(*, actor: Actor, entries: list[dict]) -> int:
    """`audit_record_many` for bulk writes (imports, erasure waves) that do not need the event
    objects: the chained rows are inserted in one statement sent as one JSON text on
    PostgreSQL (`core.bulk.rows_insert`), no model instance built per event. Same lock, chain
    and transaction guarantees. Returns the number of events appended (or buffered)."""
    pairs = [(actor, entry) for entry in entries]
    buffered = getattr(_pending, "entries", None)
    if buffered is not None:
        buffered.extend(pairs)
    elif pairs:
        _write(pairs)
    return len(pairs)


def _values(actor: Actor, entry: dict, sequence: int, now: Any) -> dict[str, Any]:
    subject_id = entry.get("subject_id")
    if subject_id and not isinstance(subject_id, uuid.UUID):
        subject_id = uuid.UUID(str(subject_id))
    return {
        "sequence": sequence,
        "occurred_at": now,
        "actor_type": actor.kind,
        "actor_id": str(actor.id)[:64],
        "actor_label": actor.label[:150],
        "action": entry["action"],
        "object_type": entry["object_type"],
        "object_id": str(entry["object_id"]),
        "subject_id": subject_id or None,
        "region": entry.get("region") or "",
        "fields": sorted(set(entry.get("fields") or ())),
        "reason": reason_redacted(entry.get("reason") or "")[:500],
        "request_id": actor.request_id,
        "ip_truncated": actor.ip,
    }


def _chained(pairs: list[tuple[Actor, dict]]) -> list[dict[str, Any]]:
    """The events' column values linked after the current head. Takes the chain lock (on
    PostgreSQL; SQLite serializes writers itself): call inside a transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
    sequence = last["sequence"] if last else 0
    prev_hash = last["hash"] if last else GENESIS_HASH
    now = timezone.now()
    rows = []
    for actor, entry in pairs:
        sequence += 1
        values = _values(actor, entry, sequence, now)
        link = link_hash(prev_hash, values)
        values["prev_hash"], values["hash"] = prev_hash, link
        rows.append(values)
        prev_hash = link
    return rows


def _append(pairs: list[tuple[Actor, dict]]) -> list[AuditEvent]:
    with transaction.atomic():
        rows = [AuditEvent(**values) for values in _chained(pairs)]
        if len(rows) == 1:
            rows[0].save()
            return rows
        return AuditEvent.objects.bulk_create(rows)


def _write(pairs: list[tuple[Actor, dict]]) -> None:
    with transaction.atomic():
        rows_insert(AuditEvent, _chained(pairs))


def audit_record_list_read(
    *,
    actor: Actor,
    object_type: str,
    count: int,
    region: str = "",
    fields: Iterable[str] = (),
    reason: str = "",
) -> AuditEvent:
    """One event for a page of personal data read in a list (not one per row)."""
    return audit_record(
        actor=actor,
        action=f"{object_type}.list",
        object_type=object_type,
        object_id=f"page:{count}",
        region=region,
        fields=fields,
        reason=reason,
    )


def audit_alert_raise(
    *, kind: str, message: str, broken_sequence: int | None = None, dedupe: bool = True
) -> AuditAlert:
    """Open an alert unless the same one is already open (no alert storm from the beat task).
    `dedupe=False` opens one for every call (an event that must be seen each time it happens)."""
    existing = None
    if dedupe:
        existing = AuditAlert.objects.filter(
            kind=kind, broken_sequence=broken_sequence, acknowledged_at__isnull=True
        ).first()
    if existing is not None:
        return existing
    return AuditAlert.objects.create(
        kind=kind, message=message[:500], broken_sequence=broken_sequence
    )


def audit_alert_acknowledge(*, alert: AuditAlert, actor: Actor) -> None:
    """Staff acknowledge an alert; the acknowledgement is itself audited."""
    with transaction.atomic():
        AuditAlert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=actor.label[:150]
        )
        audit_record(
            actor=actor,
            action="audit.alert.acknowledge",
            object_type="audit.alert",
            object_id=alert.pk,
        )


class ChainCut(Exception):
    """A published head is no longer in the chain: rows were cut off or the tail rewritten."""


def audit_chain_check() -> ChainReport:
    """Verify the chain against every known published head (the database's newest, the head
    file's) and raise an alert if it is broken or cut short."""
    from audit.selectors import known_heads

    try:
        heads = known_heads()
    except ValueError as exc:
        audit_alert_raise(kind="head_file_invalid", message=str(exc))
        heads = []
    report = verify_chain(heads=heads)
    if not report.ok:
        audit_alert_raise(
            kind="chain_broken", message=report.describe(), broken_sequence=report.broken_sequence
        )
    return report


def audit_head_publish(*, head_file: Path | None = None) -> PublishedHead | None:
    """Record the current head in the database and in the head file (`head_file`, else
    CUSTODIA_AUDIT_HEAD_FILE, if any), and, if CUSTODIA_AUDIT_HEAD_URL is set, post it there.

    Never publishes a head behind one published before: if a known head is no longer in the
    chain, an alert is raised and ChainCut raised instead (publishing would hide the cut).
    A published head lets `audit_verify` prove no rows were cut off the end later.
    """
    from django.conf import settings

    from audit.selectors import configured_head_file, known_heads
    from core import webhooks

    path = head_file or configured_head_file()
    for known in known_heads(head_file=path):
        found = (
            AuditEvent.objects.filter(sequence=known.sequence)
            .values_list("hash", flat=True)
            .first()
        )
        if found != known.hash:
            message = (
                f"head {known.sequence} published in {known.source} is no longer in the chain: "
                "rows were cut off or rewritten; not publishing a new head"
            )
            audit_alert_raise(kind="chain_cut", message=message, broken_sequence=known.sequence)
            raise ChainCut(message)
    last = AuditEvent.objects.order_by("-sequence").values("sequence", "hash").first()
    if last is None:
        return None
    head, _ = PublishedHead.objects.get_or_create(
        sequence=last["sequence"], defaults={"hash": last["hash"]}
    )
    if path is not None:
        _head_file_write(path, head)
    url = getattr(settings, "CUSTODIA_AUDIT_HEAD_URL", "")
    if url and not head.delivered_at:
        delivery = webhooks.deliver(
            url,
            {"sequence": head.sequence, "hash": head.hash, "published_at": head.published_at},
            secret=settings.CUSTODIA_SIGNING_KEY,
        )
        if delivery.ok:
            PublishedHead.objects.filter(pk=head.pk).update(delivered_at=timezone.now())
    return head


def _head_file_write(path: Path, head: PublishedHead) -> None:
    """Replace the file's head atomically (a reader never sees half a line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{head.sequence}:{head.hash}\n", encoding="ascii")
    os.replace(partial, path)
