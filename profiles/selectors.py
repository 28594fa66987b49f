"""Reads of the golden record. Staff reads are scoped through `restrict()` (404 outside the
caller's regions), masked by role and audited; system reads (DSAR pipeline) say so by name."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Iterator
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from access.masking import is_unmasked, mask_value
from audit.actors import Actor
from audit.services import audit_record, audit_subject_action
from core.db.functions import IsoUtc, UuidText
from core.errors import NotFoundError
from profiles.crypto.blind_index import InvalidIdentifier, blind_index, normalize
from profiles.models import (
    Attribute,
    DataCategory,
    Event,
    Identifier,
    ImportJob,
    MatchReview,
    MergeLineage,
    Subject,
    System,
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


class RawJSON(str):
    """JSON text to be written as it is (a decrypted payload, never parsed and re-serialized)."""


class EventStream:
    """A subject's events for an export, in time order, read and decrypted chunk by chunk as
    they are iterated (rows as tuples, no model instances): memory does not grow with their
    number. Each iteration reads them again; `default_source` fills in a missing source. With
    `raw_payload`, each payload is its decrypted JSON text (`RawJSON`), not parsed."""

    def __init__(
        self, subject: Subject, *, chunk_size: int = 2000, raw_payload: bool = False
    ) -> None:
        self.subject = subject
        self.chunk_size = chunk_size
        self.raw_payload = raw_payload
        self.default_source: str | None = None

    def _rows(self) -> QuerySet[Event]:
        return Event.objects.filter(subject=self.subject)

    def __len__(self) -> int:
        return self._rows().count()

    def source_names(self) -> set[str | None]:
        """The events' source names (None for events sent without one)."""
        return set(self._rows().values_list("source__name", flat=True).distinct().order_by())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        field = Event._meta.get_field("payload")
        # The id and the time as the text they are used as (the id in each payload's
        # associated data, the time in ISO 8601), made by the database rather than parsed
        # into Python objects only to be formatted again: most of an export's reading.
        as_text = connection.vendor in ("sqlite", "postgresql")
        pk_, at_ = (UuidText("pk"), IsoUtc("occurred_at")) if as_text else ("pk", "occurred_at")
        rows = (
            self._rows()
            .order_by("occurred_at")
            .values_list(pk_, "name", at_, "category", "source__name", "payload")
            .iterator(chunk_size=self.chunk_size)
        )
        cipher = key_id = None
        decrypt = field.decrypt_row_bytes if self.raw_payload else field.decrypt_row
        for pk, name, occurred_at, category, source, payload in rows:
            if cipher is None:
                cipher, key = self.subject.data_cipher()
                key_id = str(key)  # formatted once into every row's associated data
            value = decrypt(pk=pk, token=payload, cipher=cipher, key_id=key_id)
            yield {
                "name": name,
                "occurred_at": occurred_at if as_text else occurred_at.isoformat(),
                "category": category,
                "source": source or self.default_source,
                "payload": RawJSON(value.decode()) if self.raw_payload else value,
            }


def subject_export(*, subject_id: uuid.UUID, stream_events: bool = False) -> dict[str, Any]:
    """Everything held about a subject, decrypted, for an access/portability request (system
    read: the DSAR pipeline audits it). With `stream_events`, "events" is an `EventStream`
    read while it is written out (payloads as their JSON text, `RawJSON`), else a list."""
    subject = Subject.objects.get(pk=subject_id)
    identifiers = _with_subject(
        Identifier.objects.filter(subject=subject).select_related("source"), subject
    )
    attributes = _with_subject(
        Attribute.objects.filter(subject=subject).select_related("source"), subject
    )
    stream = EventStream(subject, raw_payload=stream_events)
    events: EventStream | list[dict[str, Any]] = stream if stream_events else list(stream)
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


def system_history_outside(*, system: System, regions: Collection[str]) -> bool:
    """Whether rows that came from `system` (identifiers, attributes and events of subjects,
    merge lineage, import jobs) concern a region outside `regions`: deleting the system would
    clear their source. An import job of every region (no regions recorded) is outside any
    limited set. A few EXISTS queries on the rows' source index; for a delete, not a list."""
    wanted = sorted({str(code).upper() for code in regions})
    if (
        Identifier.objects.filter(source=system).exclude(region__in=wanted).exists()
        or Attribute.objects.filter(source=system).exclude(subject__region__in=wanted).exists()
        or Event.objects.filter(source=system).exclude(subject__region__in=wanted).exists()
        or MergeLineage.objects.filter(source=system).exclude(survivor__region__in=wanted).exists()
    ):
        return True
    return any(
        not job_regions or not {str(code).upper() for code in job_regions} <= set(wanted)
        for job_regions in ImportJob.objects.filter(source=system).values_list("regions", flat=True)
    )
