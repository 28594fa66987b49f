"""The request pipeline: a plan of steps per request type, each run by a Celery task that gets
only the step's id. A step's state lives in the database, not in the broker:

- a worker *claims* a step with a compare-and-set (pending, or running with an expired lease)
  and gets a fencing number (its attempt);
- local effects and "step done" commit in one transaction, and only if the attempt still holds
  the step, so a step that ran twice has its effect once;
- a beat sweeper re-enqueues steps whose lease ran out (a killed worker) or that were never
  picked up (a lost message: the embedded broker drops a message taken by a killed worker).

Effects outside the database (mail, webhooks) are at-least-once; connected systems receive
the task id as an idempotency key.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from audit.actors import Actor
from dsar import wording
from dsar.models import (
    DataSubjectRequest,
    RequestStep,
    SystemTask,
)
from dsar.record import request_audit, request_mail, timeline_add
from dsar.steps import ACTOR, MAX_ATTEMPTS, RUNNERS, Blocked, StepFailed, Waiting
from dsar.stores_step import STORE_KINDS
from stores.selectors import stores_in_use

logger = logging.getLogger(__name__)

logger = logging.getLogger(__name__)


Kind = DataSubjectRequest.Kind


PLANS: dict[str, list[str]] = {
    Kind.ACCESS: ["locate", "package", "systems", "deliver", "close"],
    Kind.PORTABILITY: ["locate", "package", "systems", "deliver", "close"],
    Kind.ERASURE: ["locate", "erase", "systems", "notify", "close"],
    Kind.RECTIFICATION: ["locate", "rectify", "systems", "notify", "close"],
    Kind.RESTRICTION: ["locate", "restrict", "systems", "notify", "close"],
    Kind.OBJECTION: ["locate", "restrict", "systems", "notify", "close"],
    Kind.OPT_OUT: ["locate", "opt_out", "systems", "notify", "close"],
}
# Steps whose whole effect is in the database: effect and completion commit together.
ATOMIC_STEPS = {"locate", "package", "erase", "rectify", "restrict", "opt_out", "close"}


def step_lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.CUSTODIA_STEP_LEASE_SECONDS)


def plan_steps(kind: str) -> list[str]:
    """The request's steps: PLANS, with "stores" after "locate" while a connected SQL store
    is in use (dsar/stores_step.py) for access, portability and erasure."""
    steps = list(PLANS[kind])
    if kind in STORE_KINDS and stores_in_use().exists():
        steps.insert(steps.index("locate") + 1, "stores")
    return steps


def plan_create(request: DataSubjectRequest) -> None:
    for position, name in enumerate(plan_steps(request.kind)):
        RequestStep.objects.get_or_create(
            request=request, name=name, defaults={"position": position}
        )


def step_next(request_id: uuid.UUID) -> RequestStep | None:
    return (
        RequestStep.objects.filter(request_id=request_id)
        .exclude(status=RequestStep.Status.DONE)
        .order_by("position")
        .first()
    )


def step_send(step_id: int) -> None:
    """Publish the step's id to a worker. Sent by the task's registered name: dsar.tasks imports
    this module, not the reverse."""
    current_app.send_task("dsar.run_step", args=[step_id])


def enqueue_next(request_id: uuid.UUID) -> None:
    """Send the request's next pending step to a worker (ids only). With the broker down the
    step stays pending with its lease and the sweeper sends it later: a caller whose
    transaction has committed never fails because of the broker."""
    step = step_next(request_id)
    if step is None or step.status != RequestStep.Status.PENDING:
        return
    # Mark the send, so the sweeper leaves it alone for one lease.
    RequestStep.objects.filter(pk=step.pk, status=RequestStep.Status.PENDING).update(
        lease_until=timezone.now() + step_lease()
    )
    try:
        step_send(step.pk)
    except BrokerError:
        logger.warning("broker unreachable: step %s left to the sweeper", step.pk)


def step_claim(step_id: int) -> RequestStep | None:
    now = timezone.now()
    claimed = (
        RequestStep.objects.filter(pk=step_id)
        .filter(
            Q(status=RequestStep.Status.PENDING)
            | Q(status=RequestStep.Status.RUNNING, lease_until__lt=now)
        )
        .filter(
            request__status__in=[
                DataSubjectRequest.Status.IN_PROGRESS,
                DataSubjectRequest.Status.AWAITING_EXTERNAL,
            ]
        )
        .update(
            status=RequestStep.Status.RUNNING,
            lease_until=now + step_lease(),
            attempts=F("attempts") + 1,
            started_at=now,
        )
    )
    if claimed != 1:
        return None
    step = RequestStep.objects.select_related("request", "request__subject").get(pk=step_id)
    earlier = RequestStep.objects.filter(request_id=step.request_id, position__lt=step.position)
    if earlier.exclude(status=RequestStep.Status.DONE).exists():
        _release(step, "earlier step not done", backoff=False)
        return None
    return step


def step_settle(step: RequestStep, **fields: Any) -> bool:
    """Compare-and-set on (running, this attempt): False if another attempt took the step."""
    return bool(
        RequestStep.objects.filter(
            pk=step.pk, status=RequestStep.Status.RUNNING, attempts=step.attempts
        ).update(**fields)
    )


def _release(step: RequestStep, error: str, *, backoff: bool = True) -> None:
    delay = min(2**step.attempts * 5, 600) if backoff else 0
    if step.attempts >= MAX_ATTEMPTS and backoff:
        if step_settle(step, status=RequestStep.Status.FAILED, error=error[:300], lease_until=None):
            timeline_add(
                request=step.request,
                actor=ACTOR,
                kind="step",
                message=f"{step.name} failed after {step.attempts} attempts: an officer must act",
            )
        return
    step_settle(
        step,
        status=RequestStep.Status.PENDING,
        error=error[:300],
        lease_until=timezone.now() + dt.timedelta(seconds=delay),
    )


class _Superseded(Exception):
    pass


def _complete(step: RequestStep, result: dict[str, Any], *, enqueue: bool = True) -> None:
    if not step_settle(
        step,
        status=RequestStep.Status.DONE,
        result=result,
        finished_at=timezone.now(),
        lease_until=None,
        error="",
    ):
        raise _Superseded
    timeline_add(request=step.request, actor=ACTOR, kind="step", message=f"{step.name}: done")
    if enqueue:
        transaction.on_commit(lambda: enqueue_next(step.request_id))


def step_retry(*, step: RequestStep, actor: Actor) -> None:
    """An officer retries a failed step (after fixing its cause): attempts start again."""
    with transaction.atomic():
        RequestStep.objects.filter(pk=step.pk, status=RequestStep.Status.FAILED).update(
            status=RequestStep.Status.PENDING, attempts=0, lease_until=None, error=""
        )
        timeline_add(request=step.request, actor=actor, kind="step", message=f"{step.name}: retry")
        request_audit(step.request, actor, "retry_step", reason=step.name)
        transaction.on_commit(lambda: enqueue_next(step.request_id))


def steps_run_from(*, step_id: int) -> list[str]:
    """Run a step and, while each one completes, the request's next steps in the same task:
    one broker round trip per request instead of one per step. Every step is still claimed and
    fenced on its own, so a crash anywhere resumes through the sweeper."""
    outcomes = []
    current: int | None = step_id
    while current is not None:
        outcome = step_run(step_id=current, enqueue=False)
        outcomes.append(outcome)
        if outcome != "done":
            break
        request_id = RequestStep.objects.filter(pk=current).values_list("request_id", flat=True)
        following = step_next(request_id.get())
        current = (
            following.pk
            if following is not None and following.status == RequestStep.Status.PENDING
            else None
        )
    return outcomes


def step_run(*, step_id: int, enqueue: bool = True) -> str:
    """Run one step if this worker can claim it; with `enqueue`, send the next step to a worker
    once this one is committed. Returns what happened (for logs and tests)."""
    step = step_claim(step_id)
    if step is None:
        return "not claimed"
    runner = RUNNERS[step.name]
    try:
        if step.name in ATOMIC_STEPS:
            with transaction.atomic():
                _complete(step, runner(step.request, step), enqueue=enqueue)
        else:
            result = runner(step.request, step)
            with transaction.atomic():
                _complete(step, result, enqueue=enqueue)
    except _Superseded:
        return "superseded"
    except Waiting:
        step_settle(step, status=RequestStep.Status.WAITING, lease_until=None)
        request_status_set(step.request, DataSubjectRequest.Status.AWAITING_EXTERNAL)
        systems_check(step.request_id)  # every callback may have arrived meanwhile
        return "waiting"
    except Blocked as blocked:
        _block(step, str(blocked))
        return "blocked"
    except StepFailed as failed:
        _fail(step, str(failed))
        return "failed"
    except Exception as exc:  # any failure: retried by the sweeper with backoff
        logger.exception("dsar step %s (%s) failed", step.pk, step.name)
        _release(step, f"{type(exc).__name__}")
        return "retry"
    return "done"


def request_status_set(request: DataSubjectRequest, status: str) -> None:
    if request.status == status:
        return
    updated = DataSubjectRequest.objects.filter(
        pk=request.pk, status__in=DataSubjectRequest.OPEN
    ).update(status=status)
    if updated:
        request.status = status
        timeline_add(
            request=request,
            actor=ACTOR,
            kind="status",
            message=f"status: {DataSubjectRequest.Status(status).label}",
        )


def _fail(step: RequestStep, reason: str) -> None:
    with transaction.atomic():
        if not step_settle(
            step,
            status=RequestStep.Status.FAILED,
            error=reason[:300],
            result={"failed": reason},
            lease_until=None,
        ):
            return
        timeline_add(
            request=step.request,
            actor=ACTOR,
            kind="step",
            message=f"{step.name} failed: {reason}",
        )
        request_audit(step.request, ACTOR, "step_failed", reason=f"{step.name}: {reason}"[:500])


def _block(step: RequestStep, reason: str) -> None:
    request = step.request
    with transaction.atomic():
        if not step_settle(
            step, status=RequestStep.Status.DONE, result={"blocked": reason}, lease_until=None
        ):
            return
        DataSubjectRequest.objects.filter(pk=request.pk).update(
            status=DataSubjectRequest.Status.REJECTED,
            outcome=reason[:500],
            closed_at=timezone.now(),
        )
        request.steps.exclude(status=RequestStep.Status.DONE).update(
            status=RequestStep.Status.FAILED, error="request blocked"
        )
        timeline_add(request=request, actor=ACTOR, kind="decision", message=reason)
        request_audit(request, ACTOR, "block", reason=reason)
        transaction.on_commit(
            lambda: request_mail(
                request,
                f"Your privacy request {request.reference}",
                f"We cannot erase your data at this time: {reason}.\n"
                f"{wording.complaint_line(request)}",
            )
        )


def systems_check(request_id: uuid.UUID) -> bool:
    """If the systems step waits and every system is done, finish it and go on."""
    with transaction.atomic():
        pending = SystemTask.objects.filter(request_id=request_id).exclude(
            status=SystemTask.Status.DONE
        )
        if pending.exists():
            return False
        step = RequestStep.objects.filter(
            request_id=request_id, name="systems", status=RequestStep.Status.WAITING
        ).first()
        if step is None:
            return False
        done = RequestStep.objects.filter(pk=step.pk, status=RequestStep.Status.WAITING).update(
            status=RequestStep.Status.DONE,
            finished_at=timezone.now(),
            result={"systems_done": SystemTask.objects.filter(request_id=request_id).count()},
        )
        if not done:
            return False
        request = DataSubjectRequest.objects.get(pk=request_id)
        request_status_set(request, DataSubjectRequest.Status.IN_PROGRESS)
        timeline_add(request=request, actor=ACTOR, kind="step", message="systems: done")
        transaction.on_commit(lambda: enqueue_next(request_id))
    return True
