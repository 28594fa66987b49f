"""Data-subject requests: intake, verification, approval, deadlines, assignment, notes, holds.

Every change is audited in the same transaction (ids, kinds and reasons; never the requester's
values). The pipeline lives in dsar/engine.py (claim, fence, settle), dsar/steps.py (runners) and
dsar/housekeeping.py (sweeper, reminders, expiry); these services start and steer it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import secrets
import smtplib
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from consent.models import Jurisdiction
from consent.selectors import jurisdiction_for_region
from core.errors import ConflictError, DomainError, ForbiddenError, NotFoundError
from core.regions import KNOWN_REGIONS
from dsar import deadlines, engine, selectors, wording
from dsar.housekeeping import deadline_reminders as deadline_reminders
from dsar.housekeeping import requests_expire_unverified as requests_expire_unverified
from dsar.models import (
    DataSubjectRequest,
    LegalHold,
    RequestAssignment,
    SystemConnector,
    SystemTask,
    TimelineEntry,
    connector_secret,
)
from dsar.record import request_audit, request_mail, request_purge_contact, timeline_add
from profiles.crypto.blind_index import InvalidIdentifier, index_of
from profiles.crypto.keyring import blind_index_key
from profiles.models import Subject
from profiles.services import corrections_check

Kind = DataSubjectRequest.Kind
Status = DataSubjectRequest.Status
logger = logging.getLogger(__name__)

CODE_ATTEMPTS = 5


class RequestError(DomainError):
    code = "invalid_request"


def _now() -> dt.datetime:
    return timezone.now()


def _reference() -> str:
    # 10 characters from an alphabet without look-alikes: easy to read out on the phone.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "DSR-" + "".join(secrets.choice(alphabet) for _ in range(10))


def _code_hash(request_id: uuid.UUID, code: str) -> str:
    """Keyed hash of a confirmation code (never stored in clear)."""
    return hmac.new(blind_index_key(), f"dsar|{request_id}|{code}".encode(), "sha256").hexdigest()


def _jurisdiction(region: str, code: str = "") -> Jurisdiction | None:
    if code:
        found = Jurisdiction.objects.filter(code=code).first()
        if found:
            return found
    try:
        return jurisdiction_for_region(region)
    except NotFoundError:
        return None


def _validate_kind(kind: str) -> None:
    if kind not in Kind.values:
        raise RequestError(
            f"Unknown request type; use one of: {', '.join(Kind.values)}.",
            fields={"kind": ["invalid"]},
        )


# A request's free text (what the person tells us) and its details in all (the text,
# corrections, purposes, language) as JSON: bounded, whatever the channel.
DESCRIPTION_MAX_CHARS = 2000
DETAILS_MAX_CHARS = 8000


class DetailsTooLong(RequestError):
    code = "details_too_long"


def _details(kind: str, details: dict[str, Any] | None) -> dict[str, Any]:
    """The request's details as stored: refused (400 `details_too_long`) when the description
    is longer than DESCRIPTION_MAX_CHARS or the whole, as JSON, than DETAILS_MAX_CHARS."""
    details = dict(details or {})
    description = details.get("description")
    if isinstance(description, str) and len(description) > DESCRIPTION_MAX_CHARS:
        raise DetailsTooLong(
            f"The description is too long: at most {DESCRIPTION_MAX_CHARS:,} characters.",
            fields={"details.description": [f"at most {DESCRIPTION_MAX_CHARS} characters"]},
        )
    if len(json.dumps(details, ensure_ascii=False, default=str)) > DETAILS_MAX_CHARS:
        raise DetailsTooLong(
            f"The details are too long: at most {DETAILS_MAX_CHARS:,} characters in all.",
            fields={"details": [f"at most {DETAILS_MAX_CHARS} characters as JSON"]},
        )
    if kind == Kind.RECTIFICATION:
        try:
            corrections_check(details.get("corrections"))
        except DomainError as exc:
            raise RequestError(
                exc.message, fields={"details.corrections": exc.fields["corrections"]}
            ) from exc
    return details


def _contact_index(email: str) -> str:
    """The blind index of the requester's address ('' without one); an invalid address is a
    400 on `email`."""
    if not email:
        return ""
    try:
        return index_of("email", email)
    except InvalidIdentifier as exc:
        raise RequestError(
            "That e-mail address is not valid.", fields={"email": ["invalid"]}
        ) from exc


def _verification_set(request: DataSubjectRequest, verification: str, now: dt.datetime) -> str:
    """Mark a staff or service request verified by `verification`, or give a public one a
    confirmation code (stored hashed, expiring); returns the code to mail ('' when none)."""
    if verification:
        request.verification = verification
        request.verified_at = now
        return ""
    code = f"{secrets.randbelow(10**6):06d}"
    request.verification_code_hash = _code_hash(request.pk, code)
    request.verification_expires_at = now + dt.timedelta(hours=settings.CUSTODIA_DSAR_VERIFY_HOURS)
    return code


def _save_with_reference(request: DataSubjectRequest) -> None:
    """Save a new request under a fresh reference; a taken reference is drawn again (5 tries)."""
    for _ in range(5):
        request.reference = _reference()
        try:
            with transaction.atomic():
                request.save()
            break
        except IntegrityError:
            continue


def _request_region(*, actor: Actor, region: str, subject: Subject | None) -> str:
    """The request's region: the subject's, else the given one; within the actor's regions
    (else 404 for a subject, so its existence is not told, and 403 for a region)."""
    region = ((subject.region if subject is not None else region) or "").upper()
    if not region:
        raise RequestError("Give a region or a subject.", fields={"region": ["required"]})
    if region not in KNOWN_REGIONS:  # else a request no regional officer sees, without a regime
        raise RequestError(
            f"Unknown region; use one of {', '.join(KNOWN_REGIONS)}.",
            fields={"region": ["unknown"]},
        )
    if not actor.covers(region):
        if subject is not None:
            raise NotFoundError("Subject not found.")
        raise ForbiddenError(
            "Region not in your scope.", code="region_not_allowed", fields={"region": ["denied"]}
        )
    return region


def _received_at(received_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When the request was received: `received_at` (a request taken on paper), never later
    than now; by default now."""
    if received_at is not None and received_at > now:
        raise RequestError(
            "A request cannot be received in the future.", fields={"received_at": ["future"]}
        )
    return received_at or now


def request_create(
    *,
    kind: str,
    channel: str,
    actor: Actor,
    region: str = "",
    subject: Subject | None = None,
    email: str = "",
    details: dict[str, Any] | None = None,
    verification: str = "",
    jurisdiction: str = "",
    received_at: dt.datetime | None = None,
    intake_property: int | None = None,
) -> tuple[DataSubjectRequest, str]:
    """Open a request. Public intake (no `verification`) starts in `verifying` and returns the
    confirmation code to mail; staff and service intake are verified at once and start.

    Deadline from the jurisdiction of the subject (or the given region). The region (the
    subject's) must be within the actor's regions (else 404 for a subject, 403 for a region);
    the request keeps the actor's regions, and its pipeline never finds, moves to or acts on a
    subject outside them. Audited. Returns the request and the code ('' when none is needed)."""
    _validate_kind(kind)
    details = _details(kind, details)
    region = _request_region(actor=actor, region=region, subject=subject)
    if subject is not None:
        jurisdiction = jurisdiction or subject.jurisdiction
    contact_index = _contact_index(email)
    if subject is None and not email:
        raise RequestError("Give a subject or an e-mail address.", fields={"email": ["required"]})
    regime = _jurisdiction(region, jurisdiction)
    now = _now()
    received = _received_at(received_at, now)
    request = DataSubjectRequest(
        id=uuid.uuid4(),
        kind=kind,
        channel=channel,
        subject=subject,
        region=region,
        jurisdiction=regime.code if regime else "",
        contact_email=email.strip(),
        contact_index=contact_index,
        details=details,
        received_at=received,
        due_at=deadlines.due_date(regime, received),
        created_by=actor.label,
        intake_property=intake_property,
        scope_regions=None if actor.regions is None else sorted(actor.regions),
    )
    code = _verification_set(request, verification, now)
    _request_open(request, actor, verified=bool(verification))
    return request, code


def _request_open(request: DataSubjectRequest, actor: Actor, *, verified: bool) -> None:
    """Save a new request under a fresh reference with its first timeline entry and its audit
    row, in one transaction; a request verified at intake starts at once."""
    with transaction.atomic():
        _save_with_reference(request)
        timeline_add(
            request=request,
            actor=actor,
            kind="status",
            message=f"received through {request.channel}; due {request.due_at:%Y-%m-%d}",
            at=request.received_at,
        )
        request_audit(request, actor, "create", reason=f"{request.kind} via {request.channel}")
        if verified:
            _after_verification(request, actor)


def intake_public(
    *,
    kind: str,
    email: str,
    region: str,
    details: dict[str, Any] | None,
    actor: Actor,
    confirm_url: str,
    property_id: int,
) -> DataSubjectRequest:
    """Privacy-center intake: open the request and mail a confirmation code to the address.
    The answer is the same whether or not we hold data on that address. Only the key of
    the property `property_id` (whose center took it) confirms it (`intake_confirm`)."""
    request, code = request_create(
        kind=kind,
        channel=DataSubjectRequest.Channel.PRIVACY_CENTER,
        actor=actor,
        region=region,
        email=email,
        details=details,
        intake_property=property_id,
    )
    confirm_url = f"{confirm_url}&ref={request.reference}"
    try:
        request_mail(
            request,
            f"Confirm your privacy request {request.reference}",
            f"We received {wording.kind_phrase(request)} for this address.\n\n"
            f"Your confirmation code: {code}\n"
            f"Enter it at {confirm_url} within {settings.CUSTODIA_DSAR_VERIFY_HOURS} hours.\n\n"
            "If you did not ask for this, ignore this message: nothing will happen.",
        )
    except (smtplib.SMTPException, OSError) as exc:
        _intake_unmailed_close(request, exc)
        raise DomainError(
            "The confirmation e-mail could not be sent. Please try again later.",
            code="mail_unavailable",
            status=503,
        ) from None
    return request


def _intake_unmailed_close(request: DataSubjectRequest, exc: Exception) -> None:
    """The code never reached the person: close the request at once (not left `verifying` for
    days on the desk) and forget its address; the person is told to send it again."""
    logger.error(
        "request %s: confirmation mail not sent (%s); request closed",
        request.reference,
        type(exc).__name__,
    )
    with transaction.atomic():
        DataSubjectRequest.objects.filter(pk=request.pk).update(
            status=Status.EXPIRED,
            closed_at=_now(),
            outcome="confirmation code could not be mailed",
            verification_code_hash="",
        )
        request.refresh_from_db()
        timeline_add(
            request=request,
            actor="system",
            kind="status",
            message=f"closed: the confirmation code could not be mailed ({type(exc).__name__})",
        )
        request_audit(
            request, Actor.system("dsar.intake"), "expire", reason="confirmation mail not sent"
        )
        request_purge_contact(request=request)


def intake_confirm(
    *, reference: str, code: str, actor: Actor, property_id: int | None = None
) -> DataSubjectRequest:
    """Check the mailed code (at most 5 tries, until the request expires) and start the
    request. A request taken by another property's privacy center than `property_id` is not
    found (no attempt used: the caller's key is not the request's). Errors never say whether
    the reference exists."""
    wrong = RequestError(
        "That code is not valid for this request (or the request has expired, or was made "
        "on another website's privacy center).",
        code="invalid_code",
    )
    with transaction.atomic():
        request = DataSubjectRequest.objects.select_for_update().filter(reference=reference).first()
        if request is None:
            raise wrong
        other_center = request.intake_property not in (None, property_id)
        if other_center:
            raise wrong
        if request.status != Status.VERIFYING:
            raise wrong  # confirmed, expired or closed: say nothing about which
        expired = request.verification_expires_at and request.verification_expires_at < _now()
        if expired or request.verification_attempts >= CODE_ATTEMPTS:
            raise wrong
        if not hmac.compare_digest(
            request.verification_code_hash, _code_hash(request.pk, (code or "").strip())
        ):
            DataSubjectRequest.objects.filter(pk=request.pk).update(
                verification_attempts=request.verification_attempts + 1
            )
            request_audit(request, actor, "verify_failed", reason="wrong confirmation code")
            return_error = wrong
        else:
            return_error = None
            request.verification = DataSubjectRequest.Verification.EMAIL_CODE
            request.verified_at = _now()
            request.verification_code_hash = ""
            request.save(update_fields=["verification", "verified_at", "verification_code_hash"])
            timeline_add(
                request=request, actor=actor, kind="status", message="e-mail address confirmed"
            )
            request_audit(request, actor, "verify", reason="e-mail code")
            _after_verification(request, actor)
    if return_error:
        raise return_error
    return request


def _needs_approval(kind: str) -> bool:
    return kind in settings.CUSTODIA_DSAR_APPROVAL_REQUIRED


def _after_verification(request: DataSubjectRequest, actor: Actor) -> None:
    if _needs_approval(request.kind) and not request.approved_at:
        _set_status(request, Status.AWAITING_APPROVAL, actor)
    else:
        _start(request, actor)


def _set_status(request: DataSubjectRequest, status: str, actor: Actor | str) -> None:
    request.status = status
    DataSubjectRequest.objects.filter(pk=request.pk).update(status=status)
    timeline_add(
        request=request,
        actor=actor,
        kind="status",
        message=f"status: {DataSubjectRequest.Status(status).label}",
    )


def _start(request: DataSubjectRequest, actor: Actor) -> None:
    _set_status(request, Status.IN_PROGRESS, actor)
    first = engine.plan_create(request)
    if first is None:
        transaction.on_commit(lambda: engine.enqueue_next(request.pk))
    else:
        engine.enqueue_step(first)  # sent when the transaction commits


def _locked(request: DataSubjectRequest) -> DataSubjectRequest:
    """The request row locked for an officer's decision. A no-key update lock on PostgreSQL:
    it orders decisions against each other and against status changes, but not against a
    worker writing a row that names the request (a timeline entry takes a key-share lock on
    it) while holding its step's row, which the decision then updates: with a full update
    lock the two waited on each other until PostgreSQL aborted one (deadlock detected)."""
    no_key = connection.features.has_select_for_no_key_update
    return DataSubjectRequest.objects.select_for_update(no_key=no_key).get(pk=request.pk)


def request_approve(
    *, request: DataSubjectRequest, actor: Actor, reason: str = ""
) -> DataSubjectRequest:
    """An officer approves a verified request that needs approval (erasure, rectification by
    default); the pipeline starts."""
    with transaction.atomic():
        request = _locked(request)
        if request.status != Status.AWAITING_APPROVAL:
            raise ConflictError("Only a request awaiting approval can be approved.")
        request.approved_at = _now()
        request.approved_by = actor.label
        request.save(update_fields=["approved_at", "approved_by"])
        timeline_add(request=request, actor=actor, kind="decision", message="approved", note=reason)
        request_audit(request, actor, "approve")
        _start(request, actor)
    return request


def request_deny(*, request: DataSubjectRequest, actor: Actor, reason: str) -> DataSubjectRequest:
    """Refuse a request with the reason the person is told (Art. 12(4): why, and that they may
    complain to a supervisory authority). The reason is kept as proof."""
    if not reason.strip():
        raise RequestError("A refusal needs a reason.", fields={"reason": ["required"]})
    with transaction.atomic():
        request = _locked(request)
        if not request.is_open:
            raise ConflictError("This request is closed already.")
        request.status = Status.REJECTED
        request.outcome = reason[:500]
        request.closed_at = _now()
        request.save(update_fields=["status", "outcome", "closed_at"])
        request.steps.exclude(status="done").update(status="failed", error="request rejected")
        timeline_add(request=request, actor=actor, kind="decision", message="rejected", note=reason)
        request_audit(request, actor, "reject", reason="refused by an officer")
        transaction.on_commit(
            lambda: request_mail(
                request,
                f"Your privacy request {request.reference}",
                f"We cannot carry out your {wording.KIND_NOUNS[request.kind]}. Reason:\n\n"
                f"{reason}\n\n{wording.complaint_line(request)}",
            )
        )
    return request


def request_extend(*, request: DataSubjectRequest, actor: Actor, reason: str) -> DataSubjectRequest:
    """Extend the deadline once, by the regime's extension, before it passes, with the reason
    the person is told (GDPR Art. 12(3), CCPA §7021(b))."""
    if not reason.strip():
        raise RequestError("An extension needs a reason.", fields={"reason": ["required"]})
    with transaction.atomic():
        request = _locked(request)
        regime = _jurisdiction(request.region, request.jurisdiction)
        extension = deadlines.extension_period(regime)
        if extension is None:
            raise ConflictError("This regime allows no extension.", code="no_extension")
        if request.extended_at:
            raise ConflictError("The deadline was extended already.", code="already_extended")
        if not request.is_open or request.due_at < _now():
            raise ConflictError("Only an open request within its deadline can be extended.")
        request.due_at = request.due_at + extension
        request.extended_at = _now()
        request.extension_reason = reason[:500]
        request.save(update_fields=["due_at", "extended_at", "extension_reason"])
        timeline_add(
            request=request,
            actor=actor,
            kind="decision",
            message=f"deadline extended to {request.due_at:%Y-%m-%d}",
            note=reason,
        )
        request_audit(request, actor, "extend", reason="deadline extended")
        transaction.on_commit(
            lambda: request_mail(
                request,
                f"Your privacy request {request.reference}: more time needed",
                f"We need more time to answer; the new deadline is {request.due_at:%Y-%m-%d}.\n"
                f"Reason: {reason}",
            )
        )
    return request


def request_assign(
    *, request: DataSubjectRequest, user: Any, actor: Actor, days: int = 60
) -> RequestAssignment:
    """Assign a request to an officer: a per-object grant (django-guardian, direct FK) that
    keeps it theirs until it expires. DomainError `assignee_not_allowed` unless the officer's
    role may manage requests and their regions include the request's (an assignment never
    opens a request, and its subject, to staff of other regions)."""
    if not selectors.request_assignee_allowed(user=user, request=request):
        raise DomainError(
            "This staff member cannot be assigned the request: their role cannot manage "
            f"requests, or their regions do not include {request.region or 'its region'}.",
            code="assignee_not_allowed",
            fields={"user": ["Choose an officer who may handle requests of this region."]},
        )
    with transaction.atomic():
        assignment, _ = RequestAssignment.objects.update_or_create(
            content_object=request,
            user=user,
            permission=_view_permission(),
            defaults={
                "assigned_by": actor.label,
                "expires_at": _now() + dt.timedelta(days=days),
            },
        )
        DataSubjectRequest.objects.filter(pk=request.pk).update(assigned_to=user)
        request.assigned_to = user
        timeline_add(
            request=request,
            actor=actor,
            kind="decision",
            message=f"assigned to {user.get_username()}",
        )
        request_audit(request, actor, "assign", reason=f"assigned to user {user.pk}")
    return assignment


def _view_permission():
    from django.contrib.auth.models import Permission

    return Permission.objects.get(
        codename="view_datasubjectrequest", content_type__app_label="dsar"
    )


def request_note(*, request: DataSubjectRequest, actor: Actor, note: str) -> TimelineEntry:
    """An officer's note on the timeline (encrypted; the audit row says only that one was added)."""
    if not note.strip():
        raise RequestError("The note is empty.", fields={"note": ["required"]})
    with transaction.atomic():
        entry = timeline_add(request=request, actor=actor, kind="note", message="note", note=note)
        request_audit(request, actor, "note", fields=["note"])
    return entry


ERASED_NOTHING_TO_HOLD = "This person's data was erased: there is nothing to hold."


def legal_hold_place(*, subject: Subject, reason: str, actor: Actor) -> LegalHold:
    """Keep a subject's data: erasures are refused (with this reason) while the hold is active.
    The subject must be within the actor's regions."""
    if not actor.covers(subject.region):
        raise NotFoundError("Subject not found.")
    with transaction.atomic():
        # The subject's lock orders this after an erasure running now (which locks it too).
        if Subject.objects.select_for_update().get(pk=subject.pk).status == Subject.Status.ERASED:
            raise ConflictError(ERASED_NOTHING_TO_HOLD)
        hold = LegalHold.objects.create(
            subject=subject, reason=reason[:300], created_by=actor.label
        )
        audit_record(
            actor=actor,
            action="dsar.legal_hold.place",
            object_type="dsar.legalhold",
            object_id=hold.pk,
            subject_id=subject.pk,
            region=subject.region,
            reason=reason,
        )
    return hold


def legal_hold_release(*, hold: LegalHold, actor: Actor) -> LegalHold:
    """Lift a hold on a subject within the actor's regions (audited)."""
    if not actor.covers(hold.subject.region):
        raise NotFoundError("Legal hold not found.")
    with transaction.atomic():
        LegalHold.objects.filter(pk=hold.pk).update(released_at=_now())
        audit_record(
            actor=actor,
            action="dsar.legal_hold.release",
            object_type="dsar.legalhold",
            object_id=hold.pk,
            subject_id=hold.subject_id,
            region=hold.subject.region,
        )
    hold.refresh_from_db()
    return hold


def system_task_complete(
    *, task: SystemTask, actor: Actor, evidence: str, failed: bool = False
) -> SystemTask:
    """A connected system confirmed (signed callback) or an officer marked a manual task done
    with evidence. When the last one is done, the request's pipeline goes on."""
    if not evidence.strip():
        raise RequestError("Say what was done (evidence).", fields={"evidence": ["required"]})
    with transaction.atomic():
        task = SystemTask.objects.select_for_update().select_related("request").get(pk=task.pk)
        if task.status == SystemTask.Status.DONE:
            return task  # a repeated callback: already recorded
        task.status = SystemTask.Status.FAILED if failed else SystemTask.Status.DONE
        task.completed_at = _now()
        task.completed_by = actor.label
        task.evidence = evidence[:500]
        task.save(update_fields=["status", "completed_at", "completed_by", "evidence"])
        timeline_add(
            request=task.request,
            actor=actor,
            kind="system",
            message=f"{task.connector.system.name}: {'failed' if failed else 'done'}",
        )
        audit_record(
            actor=actor,
            action="dsar.system_task.fail" if failed else "dsar.system_task.done",
            object_type="dsar.systemtask",
            object_id=task.pk,
            subject_id=task.request.subject_id,
            region=task.request.region,
            reason=f"system {task.connector.system_id}",
        )
        engine.systems_check(task.request_id)
    return task


def archive_link_issue(*, request: DataSubjectRequest, actor: Actor) -> dict[str, str]:
    """A fresh signed link to the request's archive for staff to hand over (audited: whoever
    holds the link can download the person's data once), valid for the archive lifetime from
    now: handing a link out starts the lifetime, as mailing it does."""
    from dsar import archive as archives

    found = getattr(request, "archive", None)
    if found is None or archives.archive_is_gone(found):
        raise NotFoundError("No archive is available for this request.", code="no_archive")
    with transaction.atomic():
        try:
            url, expires_at = archives.archive_link_start(archive=found)
        except archives.ArchiveGone as gone:
            raise NotFoundError(
                "No archive is available for this request.", code="no_archive"
            ) from gone
        timeline_add(request=request, actor=actor, kind="decision", message="download link issued")
        request_audit(request, actor, "archive_link", reason="download link issued to staff")
    return {"url": url, "expires_at": expires_at.isoformat()}


def archive_download(*, token: str, actor: Actor) -> tuple[Iterator[bytes], DataSubjectRequest]:
    """Hand out the archive once: take its key, destroy the archive (key shredded, audited)
    and return its ZIP as decrypted chunks, read one at a time as they are sent; its
    encrypted chunks are deleted when the last one is read (or the download stops)."""
    from dsar import archive as archives

    with transaction.atomic():
        found = archives.archive_for_token(token)
        found = type(found).objects.select_for_update().get(pk=found.pk)
        if found.destroyed_at:
            raise archives.ArchiveGone("This download link was used already.")
        chunks = archives.archive_reader(found)
        archives.archive_destroy(archive=found, downloaded=True)
        request = found.request
        timeline_add(request=request, actor=actor, kind="system", message="archive downloaded")
        request_audit(request, actor, "archive_download", reason="archive downloaded and destroyed")
    return _then_delete(chunks, found.pk), request


def _then_delete(chunks: Iterator[bytes], archive_id: uuid.UUID) -> Iterator[bytes]:
    from dsar import archive as archives

    try:
        yield from chunks
    finally:
        archives.archive_chunks_delete(archive_ids=[archive_id])


def connector_secret_rotate(*, connector: SystemConnector, actor: Actor) -> str:
    """Give a connected system a new shared secret and return it (shown once to the officer,
    who hands it to the system). Callbacks signed with the old secret fail from now on. Audited,
    without the secret."""
    secret = connector_secret()
    with transaction.atomic():
        SystemConnector.objects.filter(pk=connector.pk).update(secret=secret)
        audit_record(
            actor=actor,
            action="dsar.connector.rotate_secret",
            object_type="dsar.systemconnector",
            object_id=connector.pk,
            reason=f"system {connector.system_id}",
        )
    connector.secret = secret
    return secret
