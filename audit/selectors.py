"""Reads of the audit log. Region filtering is passed in by the caller's presentation layer
(audit depends on no other Custodia app)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from audit.models import AuditEvent, PublishedHead
from audit.verify import Head, parse_head

PERSONAL_DATA_ACTIONS_SUFFIXES = (".read", ".list", ".export", ".unmask", ".update", ".erase")


def last_published_head() -> Head | None:
    """The newest head recorded in the database (by `audit_head` and the beat task)."""
    head = PublishedHead.objects.order_by("-sequence").values("sequence", "hash").first()
    if head is None:
        return None
    return Head(sequence=head["sequence"], hash=head["hash"], source="the database")


def head_file_read(path: Path) -> Head | None:
    """The head kept in a file outside the database (None if the file does not exist yet).
    Raises ValueError for a file that does not hold a head."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    return parse_head(text, source=f"the file {path}")


def known_heads(*, head_file: Path | None = None) -> list[Head]:
    """Every published head the hub can check the chain against: the newest one in the
    database, and the one in the head file (`head_file`, else CUSTODIA_AUDIT_HEAD_FILE)."""
    heads = [head for head in (last_published_head(),) if head is not None]
    path = head_file or configured_head_file()
    if path is not None:
        from_file = head_file_read(path)
        if from_file is not None:
            heads.append(from_file)
    return heads


def configured_head_file() -> Path | None:
    """CUSTODIA_AUDIT_HEAD_FILE, if set."""
    configured = getattr(settings, "CUSTODIA_AUDIT_HEAD_FILE", "")
    return Path(configured) if configured else None


def audit_events_filter(
    *,
    regions: frozenset[str] | None,
    subject_id: uuid.UUID | str | None = None,
    actor: str | None = None,
    action: str | None = None,
    region: str | None = None,
    date_from: dt.date | dt.datetime | None = None,
    date_to: dt.date | dt.datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Events visible to a caller allowed `regions` (None = all; events without a region need
    all regions), narrowed by the given filters; newest first."""
    events = AuditEvent.objects.all()
    if regions is not None:
        events = events.filter(region__in=sorted(regions)).exclude(region="")
    if subject_id:
        events = events.filter(subject_id=subject_id)
    if actor:
        events = events.filter(Q(actor_label=actor) | Q(actor_id=actor))
    if action:
        events = events.filter(action__startswith=action)
    if region:
        events = events.filter(region=region)
    if date_from:
        events = events.filter(occurred_at__date__gte=date_from)
    if date_to:
        events = events.filter(occurred_at__date__lte=date_to)
    return events.order_by("-sequence")


def subject_access_history(*, subject_id: uuid.UUID | str) -> list[dict[str, Any]]:
    """Who read or changed this subject's data, oldest first (for access requests, Art. 15).
    PII-free: actor labels are staff accounts or system names, fields are names."""
    rows = (
        AuditEvent.objects.filter(subject_id=subject_id)
        .order_by("sequence")
        .values(
            "occurred_at", "actor_type", "actor_id", "actor_label", "action", "fields", "reason"
        )
    )
    return [
        {
            "time": row["occurred_at"].isoformat(),
            "actor_type": row["actor_type"],
            "actor_id": row["actor_id"],
            "actor": row["actor_label"],
            "action": row["action"],
            "fields": row["fields"],
            "reason": row["reason"],
        }
        for row in rows
    ]
