"""Housekeeping of requests, run by beat: the sweeper (lost or stalled steps, systems due,
deferred erasures, unverified requests, expired archives) and the officers' deadline
reminders."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import capfirst
from kombu.exceptions import OperationalError as BrokerError

from audit.actors import Actor
from dsar import archive as archives
from dsar import deadlines, wording
from dsar.engine import step_lease, step_next, step_send
from dsar.models import (
    DataSubjectRequest,
    RequestStep,
    SystemTask,
)
from dsar.record import request_audit, request_purge_contact, timeline_add
from dsar.steps import ACTOR
from profiles.services import subject_erase

Kind = DataSubjectRequest.Kind
Status = DataSubjectRequest.Status

logger = logging.getLogger(__name__)


def sweep() -> dict[str, int]:
    """Beat: re-enqueue steps of open requests whose lease ran out or whose message was lost,
    wake systems steps with deliveries due, finish deferred erasures, expire unverified
    requests and destroy expired archives."""
    now = timezone.now()
    open_requests = [
        DataSubjectRequest.Status.IN_PROGRESS,
        DataSubjectRequest.Status.AWAITING_EXTERNAL,
    ]
    stale = RequestStep.objects.filter(request__status__in=open_requests).filter(
        Q(status=RequestStep.Status.RUNNING, lease_until__lt=now)
        | Q(status=RequestStep.Status.PENDING, lease_until__lt=now)
        | Q(status=RequestStep.Status.PENDING, lease_until=None)
    )
    requeued = 0
    for step in stale:
        next_step = step_next(step.request_id)
        if next_step is None or next_step.pk != step.pk:
            continue
        if step.status == RequestStep.Status.PENDING:
            RequestStep.objects.filter(pk=step.pk).update(lease_until=now + step_lease())
        try:
            step_send(step.pk)
        except BrokerError:
            # The broker is down (or failed a moment ago): this step is left as the sweep
            # found it, for the next sweep, and so are the others (no use trying each).
            RequestStep.objects.filter(pk=step.pk).update(lease_until=step.lease_until)
            logger.warning("broker unreachable: the sweep sends the stale steps next time")
            break
        requeued += 1
    woken = 0
    due_tasks = SystemTask.objects.filter(
        Q(status=SystemTask.Status.PENDING) | Q(status=SystemTask.Status.SENT),
        next_attempt_at__lte=now,
        request__status__in=open_requests,
    ).values_list("request_id", flat=True)
    for request_id in set(due_tasks):
        woke = RequestStep.objects.filter(
            request_id=request_id, name="systems", status=RequestStep.Status.WAITING
        ).update(status=RequestStep.Status.PENDING, lease_until=None)
        woken += woke
    return {
        "requeued": requeued,
        "systems_woken": woken,
        "deferred_erasures": erasures_finish_deferred(),
        "expired": requests_expire_unverified(),
        "archives_destroyed": archives.archives_destroy_expired(),
    }


def erasures_finish_deferred() -> int:
    """Erase what a retention exception kept, once its time is up: the data key goes too."""
    due = DataSubjectRequest.objects.filter(
        kind=Kind.ERASURE, retained_until__lt=timezone.now(), retained_erased_at=None
    ).exclude(subject=None)
    count = 0
    for request in due:
        with transaction.atomic():
            subject_erase(
                subject_id=request.subject_id,
                actor=ACTOR,
                reason=f"retention period over ({request.reference})",
            )
            DataSubjectRequest.objects.filter(pk=request.pk).update(
                retained_erased_at=timezone.now()
            )
            timeline_add(request=request, actor=ACTOR, kind="step", message="retained data erased")
        count += 1
    return count


def requests_expire_unverified() -> int:
    """Close public requests never confirmed in time (and forget their contact address)."""
    expired = 0
    stale = DataSubjectRequest.objects.filter(
        status=Status.VERIFYING, verification_expires_at__lt=timezone.now()
    )
    for request in stale.iterator():
        with transaction.atomic():
            request = DataSubjectRequest.objects.select_for_update().get(pk=request.pk)
            if request.status != Status.VERIFYING:
                continue
            request.status = Status.EXPIRED
            request.closed_at = timezone.now()
            request.outcome = "identity not verified in time"
            request.save(update_fields=["status", "closed_at", "outcome"])
            timeline_add(request=request, actor="system", kind="status", message="expired")
            request_audit(request, Actor.system("dsar.expire"), "expire")
            request_purge_contact(request=request)
            expired += 1
    return expired


def deadline_reminders(*, soon_days: int = 7) -> int:
    """Mail the assigned officer (or the privacy team) about open requests overdue or due
    within `soon_days`, at most once a day per request. Returns how many were sent."""
    now = timezone.now()
    due = DataSubjectRequest.objects.filter(
        status__in=DataSubjectRequest.OPEN, due_at__lte=now + dt.timedelta(days=soon_days)
    ).exclude(last_reminder_at__gt=now - dt.timedelta(hours=23))
    sent = 0
    for request in due.select_related("assigned_to"):
        to = (request.assigned_to.email if request.assigned_to else "") or (
            settings.CUSTODIA_DSAR_TEAM_EMAIL
        )
        if not to:
            continue
        state = deadlines.deadline_state(request.due_at, now, soon_days=soon_days)
        send_mail(
            f"[{state.replace('_', ' ')}] {request.reference} due {request.due_at:%Y-%m-%d}",
            f"{capfirst(wording.kind_phrase(request))}, {request.reference} "
            f"({request.region}), is "
            f"{state.replace('_', ' ')}: due {request.due_at:%Y-%m-%d %H:%M} UTC.\n"
            f"{settings.CUSTODIA_PUBLIC_URL}/admin/dsar/datasubjectrequest/{request.pk}/change/",
            settings.DEFAULT_FROM_EMAIL,
            [to],
        )
        DataSubjectRequest.objects.filter(pk=request.pk).update(last_reminder_at=now)
        timeline_add(request=request, actor="system", kind="mail", message=f"reminder: {state}")
        sent += 1
    return sent
