"""Reads of the golden record. Staff reads are scoped through `restrict()` (404 outside the
caller's regions), masked by role and audited; system reads (DSAR pipeline) say so by name."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection
from typing import Any

from django.db.models import Q, QuerySet

from access.masking import is_unmasked, mask_value
from audit.actors import Actor
from audit.services import audit_record, audit_subject_action
from core.errors import NotFoundError
from profiles.crypto.blind_index import InvalidIdentifier, blind_index, normalize
from profiles.models import (
    Attribute,
    DataCategory,
    Event,
    Identifier,
    MatchReview,
    MergeLineage,
    Subject,
)


def subjects_find_by_identifier(
    *, kind: str, value: str, regions: Collection[str] | None = None
) -> QuerySet[Subject]:
    """System-level lookup by exact identifier through the blind index, in `regions` only
    (None = every region; an identity is unique per region, so there may be one subject per
    region): for the DSAR pipeline locating a requester within the request's scope. Never call
    it on behalf of a staff user."""
    try:
        index = blind_index(kind, normalize(kind, value))
    except InvalidIdentifier:
        return Subject.objects.none()
    found = Subject.objects.filter(identifiers__kind=kind, identifiers__value_index=index)
    if regions is not None:
        found = found.filter(identifiers__region__in=sorted(regions))
    return found.distinct()


def subject_search(*, who: Any, kind: str, value: str) -> QuerySet[Subject]:
    """Subjects `who` may view whose identifier of `kind` equals `value` (exact, blind index)."""
    index = blind_index(kind, normalize(kind, value))
    return (
        Subject.objects.restrict(who, "view")
        .filter(identifiers__kind=kind, identifiers__value_index=index)
        .distinct()
    )


def subject_search_any(*, who: Any, text: str) -> QuerySet[Subject]:
    """Admin search box: an exact e-mail, phone, customer id or subject id, whichever parses."""
    text = text.strip()
    condition = Q(pk__in=[])
    with contextlib.suppress(ValueError):
        condition |= Q(pk=uuid.UUID(text))
    for kind in ("email", "phone", "customer_id"):
        try:
            index = blind_index(kind, normalize(kind, text))
        except InvalidIdentifier:
            continue
        condition |= Q(identifiers__kind=kind, identifiers__value_index=index)
    return Subject.objects.restrict(who, "view").filter(condition).distinct()


def subject_get(*, who: Any, subject_id: Any) -> Subject:
    """One subject `who` may view; NotFoundError (404) if missing *or* out of scope."""
    try:
        subject_uuid = uuid.UUID(str(subject_id))
    except ValueError as exc:
        raise NotFoundError("Subject not found.") from exc
    subject = Subject.objects.restrict(who, "view").filter(pk=subject_uuid).first()
    if subject is None:
        raise NotFoundError("Subject not found.")
    return subject


def _shown(kind: str, value: Any, clear: bool) -> Any:
    return value if clear else mask_value(kind, value)


def subject_profile(
    *, who: Any, subject: Subject, actor: Actor, reason: str = ""
) -> dict[str, Any]:
    """The golden record as `who` may see it: masked unless their role or an active unmask
    grant allows clear values; sensitive-category attributes hidden from masked viewers.
    Writes one audit event naming the fields shown."""
    clear = is_unmasked(who, subject_id=subject.pk)
    identifiers = [
        {
            "id": str(i.id),
            "kind": i.kind,
            "value": _shown(i.kind, i.value, clear),
            "verified": i.verified,
            "source": i.source.name if i.source else None,
        }
        for i in _with_subject(
            Identifier.objects.filter(subject=subject).select_related("source"), subject
        )
    ]
    attributes = []
    for a in _with_subject(
        Attribute.objects.filter(subject=subject).select_related("source"), subject
    ):
        if a.category == DataCategory.SENSITIVE and not clear:
            continue
        attributes.append(
            {
                "key": a.key,
                "value": _shown("text", a.value, clear),
                "category": a.category,
                "source": a.source.name if a.source else None,
                "collected_at": a.collected_at.isoformat(),
            }
        )
    fields = {f"identifier.{i['kind']}" for i in identifiers} | {
        f"attribute.{a['key']}" for a in attributes
    }
    audit_subject_action(
        actor=actor,
        action="profiles.subject.read",
        subject=subject,
        fields=fields,
        reason=reason or ("unmasked" if clear else "masked"),
    )
    return {
        "id": str(subject.pk),
        "region": subject.region,
        "jurisdiction": subject.jurisdiction,
        "status": subject.status,
        "masked": not clear,
        "created_at": subject.created_at.isoformat(),
        "identifiers": identifiers,
        "attributes": attributes,
        "event_count": Event.objects.filter(subject=subject).count(),
        "lineage": subject_lineage(subject=subject),
    }


def subject_events(
    *, who: Any, subject: Subject, actor: Actor, limit: int = 100
) -> list[dict[str, Any]]:
    """Recent events; payloads only for viewers allowed clear values. Audited as one read."""
    clear = is_unmasked(who, subject_id=subject.pk)
    events = _with_subject(
        Event.objects.filter(subject=subject).select_related("source")[:limit], subject
    )
    rows = [
        {
            "id": str(e.id),
            "name": e.name,
            "occurred_at": e.occurred_at.isoformat(),
            "source": e.source.name if e.source else None,
            "payload": e.payload if clear else None,
        }
        for e in events
    ]
    audit_record(
        actor=actor,
        action="profiles.event.list",
        object_type="profiles.event",
        object_id=f"page:{len(rows)}",
        subject_id=subject.pk,
        region=subject.region,
        fields=["payload"] if clear else ["name"],
    )
    return rows


def subject_lineage(*, subject: Subject) -> list[dict[str, Any]]:
    return [
        {
            "merged_subject_id": str(m.merged_subject_id),
            "method": m.method,
            "confidence": m.confidence,
            "signals": m.signals,
            "merged_by": m.merged_by,
            "merged_at": m.merged_at.isoformat(),
            "source": m.source.name if m.source else None,
        }
        for m in MergeLineage.objects.filter(survivor=subject).select_related("source")
    ]


def subject_list(*, who: Any, actor: Actor, region: str | None = None) -> QuerySet[Subject]:
    """Subjects `who` may view (ids, regions, status only: no personal values)."""
    subjects = Subject.objects.restrict(who, "view")
    if region:
        subjects = subjects.filter(region=region)
    return subjects


def _with_subject(rows: Any, subject: Subject) -> list[Any]:
    """Attach the already-loaded subject so its data key is unwrapped once, not per row."""
    loaded = list(rows)
    for row in loaded:
        row.subject = subject
    return loaded


def subject_export(*, subject_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about a subject, decrypted, for an access/portability request (system
    read: the DSAR pipeline audits it). Events are streamed in batches."""
    subject = Subject.objects.get(pk=subject_id)
    identifiers = _with_subject(
        Identifier.objects.filter(subject=subject).select_related("source"), subject
    )
    attributes = _with_subject(
        Attribute.objects.filter(subject=subject).select_related("source"), subject
    )
    events = []
    for event in (
        Event.objects.filter(subject=subject)
        .select_related("source")
        .order_by("occurred_at")
        .iterator(chunk_size=2000)
    ):
        event.subject = subject
        events.append(
            {
                "name": event.name,
                "occurred_at": event.occurred_at.isoformat(),
                "category": event.category,
                "source": event.source.name if event.source else None,
                "payload": event.payload,
            }
        )
    sources = sorted({row.source.name for row in (*identifiers, *attributes) if row.source})
    return {
        "subject": {
            "id": str(subject.pk),
            "region": subject.region,
            "status": subject.status,
            "created_at": subject.created_at.isoformat(),
        },
        "identifiers": [
            {
                "kind": i.kind,
                "value": i.value,
                "verified": i.verified,
                "source": i.source.name if i.source else None,
                "collected_at": i.created_at.isoformat(),
            }
            for i in identifiers
        ],
        "attributes": [
            {
                "key": a.key,
                "value": a.value,
                "category": a.category,
                "source": a.source.name if a.source else None,
                "collected_at": a.collected_at.isoformat(),
            }
            for a in attributes
        ],
        "events": events,
        "sources": sources,
        "lineage": subject_lineage(subject=subject),
    }


def match_reviews_pending(*, who: Any) -> QuerySet[MatchReview]:
    return MatchReview.objects.restrict(who, "view").filter(status=MatchReview.Status.PENDING)
