"""Reads of data-subject requests, always scoped to the caller's regions (plus requests
assigned to them one by one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from access.masking import is_unmasked, mask_email, mask_text
from access.scoping import Principal, region_allowed, subject_visible
from audit.actors import Actor
from audit.services import audit_record
from consent.models import ConsentRecord
from core.errors import ForbiddenError, NotFoundError
from dsar import wording
from dsar.deadlines import deadline_state
from dsar.models import (
    DataSubjectRequest,
    LegalHold,
    RetentionException,
    SystemTask,
    TimelineEntry,
)
from profiles.crypto.fields import Ciphertext
from profiles.crypto.keyring import DecryptionError
from profiles.models import Attribute, Event, Identifier, Subject
from profiles.selectors import subject_search

Kind = DataSubjectRequest.Kind


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


def request_assignee_allowed(*, user: Any, request: DataSubjectRequest) -> bool:
    """True if `user` may be put in charge of `request`: an active staff member whose role may
    manage requests and whose regions include the request's."""
    return bool(
        user.is_active
        and user.is_staff
        and user.has_perm("dsar.change_datasubjectrequest")
        and region_allowed(user, request.region)
    )


def request_assignees(*, request: DataSubjectRequest) -> list[Any]:
    """The staff `request` may be assigned to (see request_assignee_allowed), by username."""
    manage = {
        "codename": "change_datasubjectrequest",
        "content_type__app_label": "dsar",
    }
    candidates = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(**{f"groups__permissions__{k}": v for k, v in manage.items()})
            | Q(**{f"user_permissions__{k}": v for k, v in manage.items()})
        )
        .distinct()
        .select_related("region_scope")
        .order_by("username")
    )
    return [user for user in candidates if region_allowed(user, request.region)]


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
    rows = list(TimelineEntry.objects.filter(request=request).order_by("at"))
    if with_notes and request.purged_at is None:
        # Each note is under a key of its own: the keys of all the notes in one query.
        TimelineEntry.data_keys_load(r for r in rows if isinstance(r.__dict__["note"], Ciphertext))
    for entry in rows:
        item: dict[str, Any] = {
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


def _matched_subject(who: Any, request: DataSubjectRequest) -> tuple[Subject | None, str]:
    """The subject the request is about, as `who` may see it, and how it was matched. Before
    the pipeline's locate step a public request names no subject: the requester's e-mail is
    looked up through the blind index, within `who`'s regions."""
    if request.subject_id:
        subject = request.subject
        how = (
            "found by the requester's e-mail address"
            if request.contact_index
            else "named at intake"
        )
        return (subject if subject_visible(who, subject) else None), how
    if request.purged_at or not request.contact_email:
        return None, ""
    subject = subject_search(who=who, kind="email", value=request.contact_email).first()
    while subject is not None and subject.merged_into_id:
        subject = subject.merged_into
    return subject, "the requester's e-mail address matches it (confirmed when the request starts)"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _erasure_effects(subject: Subject, counts: dict[str, int]) -> list[str]:
    """What an erasure does to this subject: a legal hold that refuses it, what is deleted,
    what is kept (consent proof, events under a retention exception)."""
    effects: list[str] = []
    hold = LegalHold.objects.filter(subject=subject, released_at=None).first()
    if hold is not None:
        effects.append(
            f"A legal hold is active ({hold.reason}): the erasure will be refused and the "
            "person told why."
        )
    effects.append(
        f"Erases the subject's profile: {_n(counts['identifiers'], 'identifier')}, "
        f"{_n(counts['attributes'], 'attribute')} and {_n(counts['events'], 'event')} "
        "are deleted and "
        "the subject's data key destroyed; its identities go on the suppression list so "
        "a re-import cannot bring the person back."
    )
    effects.append(
        f"Keeps the consent history ({_n(counts['consent'], 'record')}) as proof of consent "
        "(Art. 7(1))."
    )
    now = timezone.now()
    for rule in RetentionException.objects.filter(active=True):
        if rule.regions and subject.region not in rule.regions:
            continue
        kept = Event.objects.filter(
            subject=subject,
            name__startswith=rule.event_prefix,
            occurred_at__gt=now - dt.timedelta(days=rule.keep_days),
        ).count()
        if kept:
            effects.append(
                f"Keeps {_n(kept, rule.event_prefix.rstrip('.*') + ' record')}, "
                "restricted, for "
                f"{wording.period(rule.keep_days)} after each occurred ({rule.reason}); "
                "they are erased when that period ends."
            )
    return effects


def _effects(request: DataSubjectRequest, subject: Subject | None) -> list[str]:
    """What carrying out the request does, in sentences an officer decides on (PII-free)."""
    from dsar.steps import connectors_for

    effects: list[str] = []
    counts = (
        {
            "identifiers": Identifier.objects.filter(subject=subject).count(),
            "attributes": Attribute.objects.filter(subject=subject).count(),
            "events": Event.objects.filter(subject=subject).count(),
            "consent": ConsentRecord.objects.filter(subject=subject).count(),
        }
        if subject is not None
        else {}
    )
    if subject is None:
        effects.append(
            "No subject in your regions matches yet: only the connected systems receive the "
            "requester's e-mail address."
        )
    elif request.kind == Kind.ERASURE:
        effects += _erasure_effects(subject, counts)
    elif request.kind == Kind.RECTIFICATION:
        keys = sorted((request.details or {}).get("corrections", {}))
        effects.append(f"Corrects the subject's {', '.join(keys) or 'attributes'}.")
    elif request.kind in (Kind.ACCESS, Kind.PORTABILITY):
        effects.append(
            f"Packages {_n(counts['identifiers'], 'identifier')}, "
            f"{_n(counts['attributes'], 'attribute')}, {_n(counts['events'], 'event')} and "
            f"{_n(counts['consent'], 'consent record')} into an "
            "encrypted archive; the person gets a one-time download link by e-mail."
        )
    elif request.kind in (Kind.RESTRICTION, Kind.OBJECTION):
        effects.append("Records a denial of every non-essential purpose in the consent ledger.")
    elif request.kind == Kind.OPT_OUT:
        effects.append("Opts the person out of every sale or sharing purpose.")
    systems = connectors_for(request.kind)
    if systems:
        names = ", ".join(
            f"{c.system.name} ({'an officer marks it done' if c.mode == 'manual' else 'webhook'})"
            for c in systems
        )
        effects.append(
            f"Notifies {len(systems)} connected system{'s' if len(systems) != 1 else ''}: {names}."
        )
    return effects


def request_brief(*, who: Any, request: DataSubjectRequest, actor: Actor) -> dict[str, Any]:
    """What an officer needs to decide on a request: the matched subject (ids and counts only;
    linked when `who` may open it), the requester's contact and message (clear only for roles
    allowed clear values, and that read is audited; masked otherwise), and what carrying the
    request out will do. Scoped: a subject outside `who`'s regions is never named."""
    if not request.purged_at:
        try:
            request.details  # noqa: B018 - decrypts, or finds the request's key destroyed
        except DecryptionError:
            # The pipeline closed the request and destroyed its key after the page loaded it.
            request.purged_at = timezone.now()
    subject, matched_by = _matched_subject(who, request)
    clear = is_unmasked(who, subject_id=subject.pk if subject else None)
    contact, message = "", ""
    corrections: dict[str, Any] = {}
    if not request.purged_at:
        details = request.details or {}
        contact = request.contact_email
        message = details.get("description") or ""
        corrections = details.get("corrections") or {}
        if not clear:
            contact = mask_email(contact) if contact else ""
            message = mask_text(message)
            corrections = {key: mask_text(str(value)) for key, value in corrections.items()}
        elif contact or message or corrections:
            audit_record(
                actor=actor,
                action="dsar.request.read",
                object_type="dsar.request",
                object_id=request.pk,
                subject_id=subject.pk if subject else None,
                region=request.region,
                fields=[
                    name
                    for name, value in (
                        ("contact_email", contact),
                        ("description", message),
                        ("corrections", corrections),
                    )
                    if value
                ],
                reason="request page",
            )
    return {
        "subject": subject,
        "subject_url": (
            reverse("admin:profiles_subject_change", args=[subject.pk]) if subject else ""
        ),
        "matched_by": matched_by,
        "contact": contact,
        "contact_masked": not clear,
        "purged": bool(request.purged_at),
        "message": message,
        "corrections": corrections,
        "effects": _effects(request, subject) if request.is_open else [],
    }
