"""The step runners: what each step of a request's plan does (locate, package, erase, rectify,
restrict, opt out, systems, deliver, notify, close), and the outcomes a runner raises instead
of returning a result (Waiting, Blocked, StepFailed). The engine claims, fences and settles
the steps; the runners only do the work inside that frame."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from consent.models import ConsentRecord, Purpose
from consent.services import consent_opt_out_of_sale, consent_record
from core import webhooks
from core.bulk import rows_set_json
from dsar import archive as archives
from dsar import wording
from dsar.models import (
    DataSubjectRequest,
    ExportArchive,
    LegalHold,
    RequestStep,
    RetentionException,
    SystemConnector,
    SystemTask,
)
from dsar.record import (
    request_audit,
    request_mail,
    request_purge_contact,
    requests_purge_contact,
    timeline_add,
)
from dsar.stores_step import stores_run
from profiles.models import Event, Identifier, KeyOwner, Subject
from profiles.selectors import subjects_find_by_identifier
from profiles.services import subject_erase, subject_rectify, subjects_erase

logger = logging.getLogger(__name__)


Kind = DataSubjectRequest.Kind


ACTOR = Actor.system("dsar.pipeline")
MAX_ATTEMPTS = 5


class Waiting(Exception):
    """The step waits for connected systems; callbacks or the sweeper wake it up."""


class Blocked(Exception):
    """The request cannot go on (a legal hold): it is closed as rejected with this reason."""


class StepFailed(Exception):
    """Retrying cannot help (the archive to deliver is gone): the step fails at once, the
    timeline tells the officer why, and the request stays open until they act."""


def _identifiers(subject: Subject | None) -> list[dict[str, str]]:
    if subject is None:
        return []
    return [
        {"kind": i.kind, "value": i.value}
        for i in _with(Identifier.objects.filter(subject=subject), subject)
    ]


def _with(rows: Any, subject: Subject) -> list[Any]:
    loaded = list(rows)
    for row in loaded:
        row.subject = subject
    return loaded


def connectors_for(kind: str) -> list[SystemConnector]:
    """The active connected systems that take part in requests of `kind`."""
    default = {Kind.ACCESS, Kind.PORTABILITY, Kind.ERASURE}
    return [
        c
        for c in SystemConnector.objects.filter(active=True).select_related("system")
        if kind in (c.handles or default)
    ]


def _from_privacy_center(request: DataSubjectRequest) -> bool:
    """The person asked themselves (proven by a mailed code): no staff scope binds the request,
    which follows the subject into whatever region holds their e-mail address."""
    return (
        request.channel == DataSubjectRequest.Channel.PRIVACY_CENTER
        and request.scope_regions is None
    )


def _within(request: DataSubjectRequest, subject: Subject | None) -> bool:
    """May this request find or act on `subject`? A request opened by staff or a service
    stays in its own region, which is within the opener's regions."""
    if subject is None:
        return False
    scope = request.scope_regions
    if scope is not None and subject.region not in scope:
        return False
    return _from_privacy_center(request) or subject.region == request.region


def _subject(request: DataSubjectRequest) -> Subject | None:
    """The request's subject, if the request may act on it (else as if none was found). A
    subject merged since the request named it is followed to the one it was merged into
    (the same person, whose record now holds the data), and the request names that one from
    then on: else an erasure erased the emptied record and closed as done while the person's
    data stayed under the survivor."""
    subject = request.subject
    if subject is not None and subject.merged_into_id:
        subject = _survivor(subject)
        DataSubjectRequest.objects.filter(pk=request.pk).update(subject=subject)
        request.subject = subject
    return subject if _within(request, subject) else None


def _survivor(subject: Subject) -> Subject:
    """The subject `subject` was merged into, at the end of the chain (itself if not merged)."""
    while subject.merged_into_id:
        subject = Subject.objects.get(pk=subject.merged_into_id)
    return subject


def _actor(request: DataSubjectRequest) -> Actor:
    """The pipeline acting for this request, bound to the regions of whoever opened it, so
    the services it calls refuse any subject outside them as well."""
    scope = request.scope_regions
    return Actor.system(ACTOR.id, regions=None if scope is None else frozenset(scope))


def run_locate(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    return _locate(request, connectors_for(request.kind))


def _locate(request: DataSubjectRequest, connectors: list[SystemConnector]) -> dict[str, Any]:
    """Find the subject through the blind index, and prepare each connected system's task
    with the identifiers it needs (encrypted; captured now, before any erasure).

    A request opened by staff or a service finds only a subject of its own region (within the
    opener's regions) and never changes region; a privacy-center request finds the person in
    any region (its own first) and moves there."""
    subject = _subject(request)
    if subject is None and request.subject_id is None and request.contact_email:
        public = _from_privacy_center(request)
        found = subjects_find_by_identifier(
            kind="email",
            value=request.contact_email,
            regions=None if public else [request.region],
        )
        subject = min(found, key=lambda s: (s.region != request.region, s.created_at), default=None)
        if subject is not None:
            subject = _survivor(subject)
        if not _within(request, subject):
            subject = None
        if subject is not None:
            DataSubjectRequest.objects.filter(pk=request.pk).update(
                subject=subject, region=subject.region
            )
            request.subject, request.region = subject, subject.region
    identifiers = _system_identifiers(request, subject) if connectors else []
    for connector in connectors:
        task, created = SystemTask.objects.get_or_create(
            request=request, connector=connector, defaults={"id": uuid.uuid4()}
        )
        if created or not task.payload:
            task.payload = {"identifiers": identifiers}
            task.save(update_fields=["payload"])
    request_audit(
        request, ACTOR, "locate", reason="subject found" if subject else "no subject found"
    )
    return {"subject_found": subject is not None, "systems": len(connectors)}


def _system_identifiers(
    request: DataSubjectRequest, subject: Subject | None
) -> list[dict[str, str]]:
    """What connected systems get to find the person."""
    identifiers = _identifiers(subject)
    if not identifiers and request.contact_email:
        identifiers = [{"kind": "email", "value": request.contact_email}]
    return identifiers


def run_package(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    """Collect and package the subject's data (one transaction: archive and step together)."""
    existing = getattr(request, "archive", None)
    if existing is not None:
        return {"archive": str(existing.pk), "bytes": existing.size}
    return _package(request)


def _package(request: DataSubjectRequest) -> dict[str, Any]:
    data = archives.collect(request)
    archive, events = archives.archive_store(request=request, data=data)
    if request.subject_id:
        audit_record(
            actor=ACTOR,
            action="dsar.export.collect",
            object_type="dsar.request",
            object_id=request.pk,
            subject_id=request.subject_id,
            region=request.region,
            fields=["identifiers", "attributes", "events", "consent", "access_history"],
            reason=f"{request.kind} request {request.reference}",
        )
    return {
        "archive": str(archive.pk),
        "bytes": archive.size,
        "events": events,
        "consent_records": len(data.get("consent_history", [])),
    }


def _retained_events(
    subject: Subject,
) -> tuple[list[uuid.UUID], dt.datetime | None, list[str], list[dict[str, Any]]]:
    """Events a retention exception keeps: their ids, the latest end of retention, the legal
    reasons, and per rule what is kept (kind of record, how many, why, until when)."""
    now = timezone.now()
    keep: list[uuid.UUID] = []
    until: dt.datetime | None = None
    reasons: list[str] = []
    kept: list[dict[str, Any]] = []
    for rule in RetentionException.objects.filter(active=True):
        if rule.regions and subject.region not in rule.regions:
            continue
        cutoff = now - dt.timedelta(days=rule.keep_days)
        rows = list(
            Event.objects.filter(
                subject=subject, name__startswith=rule.event_prefix, occurred_at__gt=cutoff
            ).values_list("pk", "occurred_at")
        )
        if not rows:
            continue
        rule_until = max(occurred for _, occurred in rows) + dt.timedelta(days=rule.keep_days)
        keep.extend(pk for pk, _ in rows)
        until = max(until, rule_until) if until else rule_until
        reasons.append(rule.reason)
        kept.append(
            {
                "records": rule.event_prefix.rstrip(".*"),
                "count": len(rows),
                "reason": rule.reason,
                "period": wording.period(rule.keep_days),
                "until": rule_until.date().isoformat(),
            }
        )
    return keep, until, reasons, kept


def run_erase(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    """Honour legal holds (block) and retention exceptions (narrow), else crypto-shred and
    delete, suppressing the identities so a re-import cannot bring the person back."""
    subject = _subject(request)
    if subject is None:
        return {"subject_found": False}
    # Locked before the hold is read: a hold placed meanwhile (legal_hold_place locks the
    # subject too) is seen here, or waits until this erasure commits and is refused.
    locked = Subject.objects.select_for_update().get(pk=subject.pk)
    if locked.merged_into_id:  # merged after it was read: erase the survivor
        request.subject = locked
        return run_erase(request, step)
    subject.status = locked.status
    hold = LegalHold.objects.filter(subject=subject, released_at=None).first()
    if hold is not None:
        raise Blocked(f"legal hold: {hold.reason}")
    if subject.status == Subject.Status.ERASED:
        return {"subject_found": True, "already_erased": True}
    keep, until, reasons, kept = _retained_events(subject)
    summary = subject_erase(
        subject_id=subject.pk,
        actor=_actor(request),
        reason=f"erasure request {request.reference}",
        keep_events=keep,
    )
    summary.pop("subject_id", None)
    if keep:
        summary["kept_until"] = until.isoformat()
        summary["kept_because"] = reasons
        summary["kept"] = kept
        DataSubjectRequest.objects.filter(pk=request.pk).update(retained_until=until)
    return summary


def run_stores(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    """The request's part in each connected SQL store, store by store (dsar/stores_step.py):
    looked up by the subject's identifiers, or the requester's address if none was found."""
    identifiers = _identifiers(_subject(request))
    if not identifiers and request.contact_email:
        identifiers = [{"kind": "email", "value": request.contact_email}]
    result = stores_run(request, identifiers=identifiers, actor=ACTOR)
    if result.pop("waiting", False):
        raise Waiting  # a rectification: an officer corrects a store's rows by hand
    return result


def run_rectify(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    subject = _subject(request)
    if subject is None:
        return {"subject_found": False}
    changed = subject_rectify(
        subject=subject,
        corrections=request.details.get("corrections", {}),
        actor=_actor(request),
        reason=f"rectification request {request.reference}",
    )
    return {"corrected": changed}


def run_restrict(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    """Restriction / objection: every non-essential purpose (or the ones named) is denied in
    the consent ledger, so every decision answers no until the person says otherwise."""
    subject = _subject(request)
    if subject is None:
        return {"subject_found": False}
    named = request.details.get("purposes") or []
    purposes = Purpose.objects.filter(essential=False)
    if named and request.kind == Kind.OBJECTION:
        purposes = purposes.filter(slug__in=named)
    for purpose in purposes:
        consent_record(
            purpose=purpose,
            state=ConsentRecord.State.DENIED,
            channel=ConsentRecord.Channel.DSAR,
            actor=_actor(request),
            subject=subject,
            idempotency_key=f"dsar:{request.pk}:{purpose.slug}",
        )
    return {"purposes_denied": sorted(p.slug for p in purposes)}


def run_opt_out(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    subject = _subject(request)
    if subject is None:
        return {"subject_found": False}
    records = consent_opt_out_of_sale(subject=subject, actor=_actor(request))
    return {"purposes_denied": sorted(r.purpose.slug for r in records)}


def system_task_dispatch(task: SystemTask, request: DataSubjectRequest) -> None:
    """Send one system its order. The task row is updated only if no callback settled it
    meanwhile (a fast system may call back before the webhook's response reaches us)."""
    connector = task.connector
    now = timezone.now()
    fields: dict[str, Any] = {"attempts": task.attempts + 1}
    if task.status == SystemTask.Status.SENT and task.attempts >= MAX_ATTEMPTS:
        # Asked MAX_ATTEMPTS times, never called back: an officer takes it from here.
        fields = {"status": SystemTask.Status.FAILED, "last_error": "no callback"}
        message = f"{connector.system.name}: no callback after {task.attempts} orders"
    elif connector.mode == SystemConnector.Mode.MANUAL:
        fields.update(status=SystemTask.Status.SENT, sent_at=now, next_attempt_at=None)
        message = f"{connector.system.name}: manual task opened for an officer"
    else:
        payload = {
            "type": f"dsar.{request.kind}",
            "task_id": str(task.pk),
            "request": request.reference,
            "jurisdiction": request.jurisdiction,
            "due_at": request.due_at.isoformat(),
            "identifiers": task.payload.get("identifiers", []),
            "callback_url": f"{settings.CUSTODIA_PUBLIC_URL}/api/v1/dsar/callbacks/{task.pk}/",
        }
        delivery = webhooks.deliver(
            connector.webhook_url,
            payload,
            secret=connector.secret,
            timeout=connector.timeout_seconds,
        )
        if delivery.ok:
            fields.update(
                status=SystemTask.Status.SENT,
                sent_at=now,
                last_error="",
                next_attempt_at=now + dt.timedelta(hours=connector.callback_timeout_hours),
            )
            message = f"{connector.system.name}: order sent"
        elif fields["attempts"] >= MAX_ATTEMPTS:
            fields.update(
                status=SystemTask.Status.FAILED,
                last_error=(delivery.error or f"HTTP {delivery.status}")[:200],
            )
            message = f"{connector.system.name}: unreachable, an officer must act"
        else:
            fields.update(
                last_error=(delivery.error or f"HTTP {delivery.status}")[:200],
                next_attempt_at=now + dt.timedelta(seconds=min(30 * 2 ** fields["attempts"], 3600)),
            )
            message = f"{connector.system.name}: delivery failed, will retry"
    updated = SystemTask.objects.filter(
        pk=task.pk, status__in=[SystemTask.Status.PENDING, SystemTask.Status.SENT]
    ).update(**fields)
    if updated:
        timeline_add(request=request, actor=ACTOR, kind="system", message=message)


def run_systems(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    """Ask every connected system to do its part (signed webhook, or a manual task), then wait
    until each has called back or been marked done by an officer."""
    now = timezone.now()
    due = SystemTask.objects.filter(request=request).filter(
        Q(status=SystemTask.Status.PENDING, next_attempt_at=None)
        | Q(status=SystemTask.Status.PENDING, next_attempt_at__lte=now)
        | Q(status=SystemTask.Status.SENT, next_attempt_at__lte=now)
    )
    for task in due.select_related("connector", "connector__system"):
        system_task_dispatch(task, request)
    tasks = list(SystemTask.objects.filter(request=request).values_list("status", flat=True))
    if any(status != SystemTask.Status.DONE for status in tasks):
        raise Waiting
    return {"systems_done": len(tasks)}


ARCHIVE_GONE = (
    "the archive was destroyed before it was delivered; retry this step to collect the data "
    "again and mail a new link"
)


def run_deliver(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    """Mail the person a single-use link to the encrypted archive, valid for the full lifetime
    from this moment (the mail states the same end). An archive that is gone fails the step at
    once; an officer's retry of that failed step collects the data again, then mails."""
    archive = ExportArchive.objects.filter(request=request).first()
    if archives.archive_is_gone(archive):
        if not step.result.get("failed"):
            raise StepFailed(ARCHIVE_GONE)
        archive = _repackage(request, archive)
    if request.purged_at or not request.contact_email:
        timeline_add(
            request=request,
            actor=ACTOR,
            kind="step",
            message="deliver: no contact address, an officer hands over a download link",
        )
        return {"mailed": False, "handover": "officer"}
    try:
        url, expires_at = archives.archive_link_start(archive=archive)
    except archives.ArchiveGone as gone:
        raise StepFailed(ARCHIVE_GONE) from gone
    mailed = request_mail(
        request,
        f"Your data is ready ({request.reference})",
        "You can download a copy of your personal data (JSON and CSV in a ZIP file) once, "
        f"within {settings.CUSTODIA_DSAR_ARCHIVE_DAYS} days "
        f"(until {expires_at:%Y-%m-%d %H:%M} UTC):\n\n{url}\n",
    )
    return {"mailed": mailed, "link_expires_at": expires_at.isoformat()}


def _repackage(request: DataSubjectRequest, dead: ExportArchive | None) -> ExportArchive:
    """An officer retried a delivery whose archive was gone: build it again (audited)."""
    with transaction.atomic():
        if dead is not None:
            ExportArchive.objects.filter(pk=dead.pk).delete()
        if DataSubjectRequest.archive.related.is_cached(request):
            DataSubjectRequest.archive.related.delete_cached_value(request)
        result = _package(request)
        timeline_add(
            request=request, actor=ACTOR, kind="step", message="deliver: archive built again"
        )
    return ExportArchive.objects.get(pk=result["archive"])


def run_notify(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    results = {s.name: s.result for s in request.steps.all()}
    return _notify(request, results.get("erase", {}).get("kept") or [])


def _notify(request: DataSubjectRequest, kept: list[dict[str, Any]]) -> dict[str, Any]:
    lines = {
        Kind.ERASURE: "Your personal data has been erased from our systems and those of our "
        "processors."
        + (
            " The law requires us to keep some records for a while:\n"
            + "".join(
                f"- {k['count']} {k['records']} record{'s' if k['count'] != 1 else ''}, "
                f"kept until {k['until']} ({k['reason']})\n"
                for k in kept
            )
            + "Until then they are used for nothing else; then they are erased too."
            if kept
            else ""
        ),
        Kind.RECTIFICATION: "Your data has been corrected.",
        Kind.RESTRICTION: "We have restricted the processing of your data.",
        Kind.OBJECTION: "We have stopped the processing you objected to.",
        Kind.OPT_OUT: "You are opted out of the sale and sharing of your personal information.",
    }
    mailed = request_mail(
        request,
        f"Your privacy request {request.reference} is complete",
        lines.get(request.kind, "Your request is complete."),
    )
    return {"mailed": mailed}


def run_close(request: DataSubjectRequest, step: RequestStep) -> dict[str, Any]:
    """Complete the request with a PII-free summary as proof, and destroy the contact details."""
    summary = {s.name: s.result for s in request.steps.exclude(pk=step.pk) if s.name != "close"}
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        status=DataSubjectRequest.Status.COMPLETED,
        closed_at=timezone.now(),
        result=summary,
        outcome=f"{request.kind} completed",
    )
    timeline_add(request=request, actor=ACTOR, kind="status", message="status: Completed")
    request_audit(request, ACTOR, "complete", reason=f"{request.kind} completed")
    request_purge_contact(request=request)
    return {"completed": True}


# --- batches: the same effects for many requests in a fixed number of statements ------------
#
# A batch runner gets steps of one name (each `step.request` loaded, claimed and fenced by the
# engine) and `each`, which runs the single runner of every step it is given, one savepoint
# per step; it returns per step id the step's result or the exception its runner raised.

Outcome = dict[str, Any] | Exception
Each = Callable[[list[RequestStep]], dict[int, Outcome]]


def locate_batch(steps: list[RequestStep], each: Each) -> dict[int, Outcome]:
    """Requests whose subject is known: connected systems read once per kind of request."""
    known = [s for s in steps if s.request.subject_id is not None]
    outcomes = each([s for s in steps if s.request.subject_id is None])
    connectors: dict[str, list[SystemConnector]] = {}
    for step in known:
        kind = step.request.kind
        if kind not in connectors:
            connectors[kind] = connectors_for(kind)
        outcomes[step.pk] = _locate(step.request, connectors[kind])
    return outcomes


def erase_batch(steps: list[RequestStep], each: Each) -> dict[int, Outcome]:
    """Subjects with no legal hold and no retention exception are erased together (one
    `subjects_erase` per scope of requests); the others step by step."""
    plain = [s for s in steps if _subject(s.request) is not None]
    if RetentionException.objects.filter(active=True).exists():
        plain = []
    # The subjects locked as their holds are read (as in run_erase), their status fresh: a
    # hold placed meanwhile is seen, or waits for this erasure and is refused.
    active_hold = LegalHold.objects.filter(subject=OuterRef("pk"), released_at=None)
    locked = (
        Subject.objects.select_for_update(of=("self",))
        .filter(pk__in=sorted(s.request.subject_id for s in plain))
        .order_by("pk")
        .annotate(held=Exists(active_hold))
        .values_list("pk", "status", "held")
    )
    rows = {pk: (status, on_hold) for pk, status, on_hold in locked}
    for step in plain:
        step.request.subject.status = rows[step.request.subject_id][0]
    held = {pk for pk, (_status, on_hold) in rows.items() if on_hold}
    # Merged after it was read: step by step (run_erase follows it to the survivor).
    gone = (Subject.Status.ERASED, Subject.Status.MERGED)
    plain = [
        s
        for s in plain
        if s.request.subject_id not in held and s.request.subject.status not in gone
    ]
    outcomes = each([s for s in steps if s not in plain])
    scopes: dict[tuple[str, ...] | None, list[RequestStep]] = {}
    for step in plain:
        scope = step.request.scope_regions
        scopes.setdefault(None if scope is None else tuple(sorted(scope)), []).append(step)
    for group in scopes.values():
        summaries = subjects_erase(
            reasons={s.request.subject_id: f"erasure request {s.request.reference}" for s in group},
            actor=_actor(group[0].request),
        )
        missed = [s for s in group if s.request.subject_id not in summaries]
        outcomes.update(each(missed))
        for step in group:
            if step.request.subject_id in summaries:
                summary = dict(summaries[step.request.subject_id])
                summary.pop("subject_id", None)
                outcomes[step.pk] = summary
    return outcomes


def systems_batch(steps: list[RequestStep], each: Each) -> dict[int, Outcome]:
    """Requests no connected system takes part in are done at once (one query for all)."""
    busy = set(
        SystemTask.objects.filter(request_id__in=[s.request_id for s in steps]).values_list(
            "request_id", flat=True
        )
    )
    outcomes = each([s for s in steps if s.request_id in busy])
    for step in steps:
        if step.request_id not in busy:
            outcomes[step.pk] = {"systems_done": 0}
    return outcomes


def notify_batch(steps: list[RequestStep], each: Each) -> dict[int, Outcome]:
    """The erase results of every request in one query, the requests' keys in another."""
    erased = dict(
        RequestStep.objects.filter(
            request_id__in=[s.request_id for s in steps], name="erase"
        ).values_list("request_id", "result")
    )
    KeyOwner.data_keys_load([s.request for s in steps])
    return {
        s.pk: _notify(s.request, (erased.get(s.request_id) or {}).get("kept") or []) for s in steps
    }


def close_batch(steps: list[RequestStep], each: Each) -> dict[int, Outcome]:
    """Complete the requests (each with its own PII-free summary) and purge their contact
    details together."""
    ids = [s.request_id for s in steps]
    results: dict[uuid.UUID, dict[str, Any]] = {i: {} for i in ids}
    for request_id, name, result in (
        RequestStep.objects.filter(request_id__in=ids)
        .exclude(name="close")
        .order_by("position")
        .values_list("request_id", "name", "result")
    ):
        results[request_id][name] = result
    now = timezone.now()
    requests = [s.request for s in steps]
    for request in requests:
        request.status = DataSubjectRequest.Status.COMPLETED
        request.closed_at = now
        request.result = results[request.pk]
        request.outcome = f"{request.kind} completed"
        timeline_add(request=request, actor=ACTOR, kind="status", message="status: Completed")
        request_audit(request, ACTOR, "complete", reason=f"{request.kind} completed")
    for kind in {r.kind for r in requests}:
        rows_set_json(
            DataSubjectRequest,
            "result",
            {r.pk: r.result for r in requests if r.kind == kind},
            status=DataSubjectRequest.Status.COMPLETED,
            closed_at=now,
            outcome=f"{kind} completed",
        )
    requests_purge_contact(requests=requests)
    return {s.pk: {"completed": True} for s in steps}


RUNNERS: dict[str, Callable[[DataSubjectRequest, RequestStep], dict[str, Any]]] = {
    "locate": run_locate,
    "package": run_package,
    "stores": run_stores,
    "erase": run_erase,
    "rectify": run_rectify,
    "restrict": run_restrict,
    "opt_out": run_opt_out,
    "systems": run_systems,
    "deliver": run_deliver,
    "notify": run_notify,
    "close": run_close,
}

BATCH_RUNNERS: dict[str, Callable[[list[RequestStep], Each], dict[int, Outcome]]] = {
    "locate": locate_batch,
    "erase": erase_batch,
    "systems": systems_batch,
    "notify": notify_batch,
    "close": close_batch,
}
