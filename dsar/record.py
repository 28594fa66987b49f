"""The request record shared by every part of dsar: its timeline, its audit rows, mail to the
requester and the purge of its contact data. Messages and audit reasons are PII-free."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from dsar.models import (
    DataSubjectRequest,
    TimelineEntry,
)
from profiles.services.keys import keys_shred
from stores.models import StoreTask


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
    keys = [request.pk, *request.timeline.values_list("pk", flat=True)]
    keys += list(request.system_tasks.values_list("pk", flat=True))
    keys += list(StoreTask.objects.filter(request_id=request.pk).values_list("pk", flat=True))
    with transaction.atomic():  # readers see the keys and `purged_at` change together
        keys_shred(owner_ids=keys)
        DataSubjectRequest.objects.filter(pk=request.pk).update(purged_at=timezone.now())
    request.purged_at = timezone.now()
