"""The request record shared by every part of dsar: its timeline, its audit rows, mail to the
requester and the purge of its contact data. Messages and audit reasons are PII-free."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import uuid
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from dsar.models import (
    DataSubjectRequest,
    SystemTask,
    TimelineEntry,
)
from profiles.services.keys import keys_create_for, keys_shred
from stores.models import StoreTask

_pending = threading.local()


@contextlib.contextmanager
def timeline_batch() -> Iterator[None]:
    """Collect the timeline lines added inside the block and insert them together (the data
    keys of those with a note in one insert, the lines in another) when it ends or at
    `timeline_flush()`. Enter it inside the transaction of the steps it records. Nested blocks
    write at the outermost."""
    if getattr(_pending, "entries", None) is not None:
        yield
        return
    _pending.entries = []
    try:
        yield
        timeline_flush()
    finally:
        _pending.entries = None


def timeline_flush() -> None:
    """Write the lines collected so far by `timeline_batch` (before their keys are shredded)."""
    entries = getattr(_pending, "entries", None)
    if not entries:
        return
    _pending.entries = []
    keys_create_for(owners=[e for e in entries if e.note])  # an empty note needs no key
    TimelineEntry.objects.bulk_create(entries)


def timeline_add(
    *,
    request: DataSubjectRequest,
    actor: Actor | str,
    kind: str,
    message: str,
    note: str = "",
    at: dt.datetime | None = None,
) -> TimelineEntry:
    """One line of the request's timeline; `message` is PII-free, `note` is encrypted."""
    entry = TimelineEntry(
        id=uuid.uuid4(),
        request=request,
        at=at or timezone.now(),
        actor=(actor if isinstance(actor, str) else actor.label)[:150],
        kind=kind,
        message=message[:300],
        note=note,
    )
    buffered = getattr(_pending, "entries", None)
    if buffered is not None:
        buffered.append(entry)
    else:
        entry.save()
    return entry


def request_audit(
    request: DataSubjectRequest, actor: Actor, action: str, reason: str = "", **kw
) -> None:
    audit_record(
        actor=actor,
        action=f"dsar.request.{action}",
        object_type="dsar.request",
        object_id=request.pk,
        subject_id=request.subject_id,
        region=request.region,
        reason=reason,
        **kw,
    )


def request_mail(request: DataSubjectRequest, subject: str, body: str) -> bool:
    """Mail the requester, if we hold a contact address. Bodies carry references and links,
    never the data itself."""
    if request.purged_at or not request.contact_email:
        return False
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [request.contact_email])
    return True


def request_purge_contact(*, request: DataSubjectRequest) -> None:
    """Destroy the request's own data key: contact address, details and notes become
    unreadable; the PII-free record (kind, dates, outcome, timeline messages) remains as proof."""
    requests_purge_contact(requests=[request])


def requests_purge_contact(*, requests: Sequence[DataSubjectRequest]) -> None:
    """`request_purge_contact` for many requests in a fixed number of statements."""
    ids = [r.pk for r in requests]
    timeline_flush()  # lines still buffered hold keys too
    keys = [
        *ids,
        *TimelineEntry.objects.filter(request_id__in=ids).values_list("pk", flat=True),
        *SystemTask.objects.filter(request_id__in=ids).values_list("pk", flat=True),
        *StoreTask.objects.filter(request_id__in=ids).values_list("pk", flat=True),
    ]
    now = timezone.now()
    with transaction.atomic():  # readers see the keys and `purged_at` change together
        keys_shred(owner_ids=keys)
        DataSubjectRequest.objects.filter(pk__in=ids).update(purged_at=now)
    for request in requests:
        request.purged_at = now
