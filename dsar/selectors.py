"""Reads of data-subject requests, always scoped to the caller's regions (plus requests
assigned to them one by one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from access.scoping import Principal
from dsar.deadlines import deadline_state
from dsar.models import DataSubjectRequest, SystemTask, TimelineEntry
from ops.errors import ForbiddenError, NotFoundError


def request_list(*, who: Any, status: str | None = None) -> QuerySet[DataSubjectRequest]:
    """Requests `who` may view, soonest deadline first."""
    rows = DataSubjectRequest.objects.restrict(who, "view")
    if status == "open":
        rows = rows.filter(status__in=DataSubjectRequest.OPEN)
    elif status:
        rows = rows.filter(status=status)
    return rows.order_by("due_at")


def request_get(*, who: Any, request_id: Any, action: str = "view") -> DataSubjectRequest:
    """One request `who` may `action`; ForbiddenError if their role cannot `action` requests at
    all, NotFoundError if missing or out of scope (never tell which)."""
    user = Principal.of(who).user
    if action != "view" and not (user and user.has_perm(f"dsar.{action}_datasubjectrequest")):
        raise ForbiddenError("Your role cannot manage requests.")
    found = DataSubjectRequest.objects.restrict(who, action).filter(pk=request_id).first()
    if found is None:
        raise NotFoundError("Request not found.")
    return found


def request_summary(request: DataSubjectRequest, *, now: dt.datetime | None = None) -> dict:
    """What the API and the admin show of a request: no contact details, no notes."""
    now = now or timezone.now()
    return {
        "id": str(request.pk),
        "reference": request.reference,
        "kind": request.kind,
        "status": request.status,
        "channel": request.channel,
        "region": request.region,
        "jurisdiction": request.jurisdiction,
        "subject_id": str(request.subject_id) if request.subject_id else None,
        "verification": request.verification or None,
        "received_at": request.received_at.isoformat(),
        "due_at": request.due_at.isoformat(),
        "deadline": deadline_state(request.due_at, now) if request.is_open else "closed",
        "extended": bool(request.extended_at),
        "approved_at": request.approved_at.isoformat() if request.approved_at else None,
        "closed_at": request.closed_at.isoformat() if request.closed_at else None,
        "outcome": request.outcome,
        "steps": [
            {"name": s.name, "status": s.status, "attempts": s.attempts, "result": s.result}
            for s in request.steps.all()
        ],
        "systems": [
            {"system": t.connector.system.name, "status": t.status, "attempts": t.attempts}
            for t in request.system_tasks.select_related("connector__system")
        ],
    }


def request_timeline(*, request: DataSubjectRequest, with_notes: bool) -> list[dict[str, Any]]:
    """The request's history, oldest first; officers' notes only when `with_notes`."""
    entries = []
    for entry in TimelineEntry.objects.filter(request=request).order_by("at"):
        item = {
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "kind": entry.kind,
            "message": entry.message,
        }
        if with_notes and request.purged_at is None:
            try:
                item["note"] = entry.note
            except Exception:  # the note's key was destroyed with the request's contact data
                item["note"] = None
        entries.append(item)
    return entries


def requests_dashboard(*, who: Any, soon_days: int = 7) -> dict[str, Any]:
    """Open requests by deadline state and kind, for the officer's home page (scoped)."""
    now = timezone.now()
    open_rows = request_list(who=who, status="open")
    counts = open_rows.aggregate(
        open=Count("pk"),
        overdue=Count("pk", filter=Q(due_at__lte=now)),
        due_soon=Count(
            "pk", filter=Q(due_at__gt=now, due_at__lte=now + dt.timedelta(days=soon_days))
        ),
        awaiting_approval=Count("pk", filter=Q(status=DataSubjectRequest.Status.AWAITING_APPROVAL)),
        awaiting_external=Count("pk", filter=Q(status=DataSubjectRequest.Status.AWAITING_EXTERNAL)),
    )
    return {
        **counts,
        "by_kind": dict(
            open_rows.values_list("kind").annotate(n=Count("pk")).values_list("kind", "n")
        ),
        "next_due": list(open_rows.select_related("subject")[:10]),
    }


def manual_tasks_open(*, who: Any) -> QuerySet[SystemTask]:
    requests = request_list(who=who, status="open")
    return SystemTask.objects.filter(
        request__in=requests, connector__mode="manual", status=SystemTask.Status.SENT
    ).select_related("request", "connector__system")


def principal_may_manage(who: Any, request: DataSubjectRequest) -> bool:
    return (
        DataSubjectRequest.objects.restrict(Principal.of(who), "change")
        .filter(pk=request.pk)
        .exists()
    )
