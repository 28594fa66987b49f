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
import threading
import uuid
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from audit.actors import Actor
from audit.services import audit_batch
from core.bulk import rows_set_json
from core.wake import publish
from dsar import wording
from dsar.models import (
    DataSubjectRequest,
    RequestStep,
    SystemTask,
)
from dsar.record import request_audit, request_mail, timeline_add, timeline_batch
from dsar.steps import (
    ACTOR,
    BATCH_RUNNERS,
    MAX_ATTEMPTS,
    RUNNERS,
    Blocked,
    Outcome,
    StepFailed,
    Waiting,
)
from dsar.stores_step import STEP_KINDS, STORE_KINDS
from stores.selectors import stores_in_use

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
    """The request's steps: PLANS, with "stores" while a connected SQL store is in use
    (dsar/stores_step.py): after "locate" for access, portability and erasure (erasure: while
    the identifiers exist), after the hub's own step for the other kinds."""
    steps = list(PLANS[kind])
    if kind in STEP_KINDS and stores_in_use().exists():
        after = "locate" if kind in STORE_KINDS else steps[steps.index("locate") + 1]
        steps.insert(steps.index(after) + 1, "stores")
    return steps


def plan_create(request: DataSubjectRequest) -> int | None:
    """Create the request's steps (idempotent). A new plan's first step is marked as sent (its
    lease runs), for the caller sends it once committed: returns its id, else None."""
    if RequestStep.objects.filter(request=request).exists():
        for position, name in enumerate(plan_steps(request.kind)):
            RequestStep.objects.get_or_create(
                request=request, name=name, defaults={"position": position}
            )
        return None
    lease = timezone.now() + step_lease()
    steps = RequestStep.objects.bulk_create(
        [
            RequestStep(
                request=request,
                name=name,
                position=position,
                lease_until=lease if position == 0 else None,
            )
            for position, name in enumerate(plan_steps(request.kind))
        ]
    )
    return steps[0].pk


_unsent = threading.local()


def enqueue_step(step_id: int) -> None:
    """Send, once the transaction commits, a step just marked as sent (its lease running).
    The steps of one transaction go out as one message per `CUSTODIA_STEP_BATCH` of them: a
    worker claims a message's step with the runnable steps of the same name, so a wave of
    requests opened together costs a few messages, not one each. A step whose message is lost
    (the broker down, a rolled-back savepoint) is sent again by the sweeper after its lease."""
    pending = getattr(_unsent, "ids", None)
    if pending is None:
        pending = _unsent.ids = []
    pending.append(step_id)
    transaction.on_commit(_send_unsent)


def _send_unsent() -> None:
    ids, _unsent.ids = getattr(_unsent, "ids", None) or [], []
    for step_id in ids[:: max(settings.CUSTODIA_STEP_BATCH, 1)]:
        try:
            step_send(step_id)
        except BrokerError:
            logger.warning("broker unreachable: step %s left to the sweeper", step_id)
            return


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
    publish("dsar.run_step", [step_id])


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
    """Claim this one step (compare-and-set, with a lease and its next attempt number) if it is
    its request's next step and runnable; None if not."""
    claimed = steps_claim(step_id=step_id)
    return claimed[0] if claimed else None


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
    """Run a batch of steps: this one and up to `CUSTODIA_STEP_BATCH - 1` other runnable steps
    of the same name (one claim statement), then, for the requests whose step completed, their
    next steps (one claim statement per round); then claim the next batch of that name, up to
    `DRAIN_BATCHES` batches. Every step is still leased and fenced by its own attempt number,
    so a crash anywhere resumes through the sweeper; a message whose step another task ran
    finds it taken (or runs the batch it finds)."""
    name = RequestStep.objects.filter(pk=step_id).values_list("name", flat=True).first()
    if name is None:
        return ["not claimed"]
    size = settings.CUSTODIA_STEP_BATCH
    outcomes: list[str] = []
    for _ in range(DRAIN_BATCHES):
        batch = steps_claim(step_id=step_id, name=name, limit=size)
        if not batch:
            break
        outcomes += _run_rounds(batch)
        if len(batch) < size:
            break
    return outcomes or ["not claimed"]


# Batches of one step name a task runs before it leaves the rest to other messages.
DRAIN_BATCHES = 20


def _run_rounds(batch: list[RequestStep]) -> list[str]:
    """Run a batch, then the next steps of its requests whose step completed, until none."""
    outcomes: list[str] = []
    while batch:
        done: list[uuid.UUID] = []
        for name in dict.fromkeys(s.name for s in batch):
            group = [s for s in batch if s.name == name]
            results = steps_run_batch(group)
            outcomes += results.values()
            done += [s.request_id for s in group if results[s.pk] == "done"]
        batch = steps_claim(request_ids=done, limit=len(done)) if done else []
    return outcomes


def _claimable_sql(selector: str) -> str:
    """The one statement that claims a batch: steps picked by `selector` that are the next
    step of an open request and pending (never tried, or its backoff over) or running past
    their lease; each gets a lease and its next attempt number (its fencing token)."""
    step, request = RequestStep._meta.db_table, DataSubjectRequest._meta.db_table
    lock = " FOR UPDATE OF s SKIP LOCKED" if connection.vendor == "postgresql" else ""
    # Table names from the models' metadata, `selector` from fixed strings: values are params.
    return f"""
        UPDATE {step} SET status = 'running', lease_until = %(lease)s,
            attempts = attempts + 1, started_at = %(now)s
        WHERE id IN (
            SELECT s.id FROM {step} s JOIN {request} r ON r.id = s.request_id
            WHERE {selector}
              AND r.status IN ('in_progress', 'awaiting_external')
              AND ((s.status = 'pending' AND (s.id = %(first)s OR s.attempts = 0
                        OR s.lease_until IS NULL OR s.lease_until < %(now)s))
                   OR (s.status = 'running' AND s.lease_until < %(now)s))
              AND NOT EXISTS (SELECT 1 FROM {step} e WHERE e.request_id = s.request_id
                              AND e.position < s.position AND e.status <> 'done')
            ORDER BY CASE WHEN s.id = %(first)s THEN 0 ELSE 1 END, s.id
            LIMIT %(limit)s{lock}
        )
        RETURNING id"""  # noqa: S608


def steps_claim(
    *,
    step_id: int = 0,
    name: str = "",
    request_ids: list[uuid.UUID] | None = None,
    limit: int = 1,
) -> list[RequestStep]:
    """Claim in one statement step `step_id` and up to `limit` runnable steps named `name`, or
    the next steps of `request_ids`; return them with their requests and subjects loaded."""
    now = timezone.now()
    ops = connection.ops
    params: dict[str, Any] = {
        "now": ops.adapt_datetimefield_value(now),
        "lease": ops.adapt_datetimefield_value(now + step_lease()),
        "first": step_id,
        "limit": limit,
    }
    if request_ids is not None:
        field = RequestStep._meta.get_field("request").target_field
        keys = [field.get_db_prep_value(i, connection) for i in request_ids]
        params.update({f"r{n}": key for n, key in enumerate(keys)})
        selector = f"s.request_id IN ({', '.join(f'%(r{n})s' for n in range(len(keys)))})"
    elif name:
        params["name"] = name
        selector = "(s.id = %(first)s OR s.name = %(name)s)"
    else:
        selector = "s.id = %(first)s"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_claimable_sql(selector), params)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    steps = RequestStep.objects.select_related("request", "request__subject").filter(pk__in=ids)
    return sorted(steps, key=lambda s: (s.pk != step_id, s.pk))


def steps_run_batch(steps: list[RequestStep]) -> dict[int, str]:
    """Run claimed steps of one name together: their effects, completions, timeline lines and
    audit events commit in one transaction (effects outside the database first, for the steps
    that have some), each step only if its attempt still holds it. A batch that fails as a
    whole is run again step by step, so one bad request cannot hold back the others."""
    name = steps[0].name
    batch_runner = BATCH_RUNNERS.get(name)
    atomic = name in ATOMIC_STEPS
    try:
        if atomic:
            with transaction.atomic(), audit_batch(), timeline_batch():
                held = _fence(steps)
                results = _run_runner(batch_runner, held)
                finished = _complete_many(held, results)
        else:
            results = _run_runner(batch_runner, steps)
            with transaction.atomic(), audit_batch(), timeline_batch():
                held = _fence(steps)
                finished = _complete_many(held, results)
    except Exception:
        if len(steps) == 1:
            return {steps[0].pk: _step_execute(_reload(steps[0]), enqueue=False)}
        logger.exception("dsar batch of %d %s steps failed: run one by one", len(steps), name)
        return {s.pk: _step_execute(_reload(s), enqueue=False) for s in steps}
    outcomes = {s.pk: "superseded" for s in steps}
    outcomes.update(finished)
    for step in held:
        outcome = results.get(step.pk)
        if isinstance(outcome, Exception):
            outcomes[step.pk] = _step_outcome(step, outcome)
    return outcomes


def _run_runner(batch_runner: Any, steps: list[RequestStep]) -> dict[int, Outcome]:
    if batch_runner is None:
        return _run_each(steps)
    return batch_runner(steps, _run_each)


def _run_each(steps: list[RequestStep]) -> dict[int, Outcome]:
    """Each step's own runner, a savepoint per step for the steps whose effect is in the
    database (a failing step leaves nothing behind); exceptions are returned, not raised."""
    outcomes: dict[int, Outcome] = {}
    for step in steps:
        try:
            if step.name in ATOMIC_STEPS:
                with transaction.atomic():
                    outcomes[step.pk] = RUNNERS[step.name](step.request, step)
            else:
                outcomes[step.pk] = RUNNERS[step.name](step.request, step)
        except Exception as exc:
            outcomes[step.pk] = exc
    return outcomes


def _fence(steps: list[RequestStep]) -> list[RequestStep]:
    """Lock the steps still held by this attempt (renewing their lease) and return them: a step
    another worker took over meanwhile is left out, its effect not applied. One statement."""
    table = RequestStep._meta.db_table
    pairs = ", ".join(["(%s, %s)"] * len(steps))
    params: list[Any] = [connection.ops.adapt_datetimefield_value(timezone.now() + step_lease())]
    for step in steps:
        params += [step.pk, step.attempts]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET lease_until = %s WHERE status = 'running' "  # noqa: S608
            f"AND (id, attempts) IN (VALUES {pairs}) RETURNING id",
            params,
        )
        held = {row[0] for row in cursor.fetchall()}
    return [s for s in steps if s.pk in held]


def _complete_many(steps: list[RequestStep], results: dict[int, Outcome]) -> dict[int, str]:
    """Settle as done the fenced steps whose runner returned a result (one statement)."""
    now = timezone.now()
    done = [s for s in steps if not isinstance(results.get(s.pk), Exception)]
    for step in done:
        step.status, step.result, step.finished_at = RequestStep.Status.DONE, results[step.pk], now
        step.lease_until, step.error = None, ""
        timeline_add(request=step.request, actor=ACTOR, kind="step", message=f"{step.name}: done")
    rows_set_json(
        RequestStep,
        "result",
        {s.pk: s.result for s in done},
        status=RequestStep.Status.DONE,
        finished_at=now,
        lease_until=None,
        error="",
    )
    return {s.pk: "done" for s in done}


def _reload(step: RequestStep) -> RequestStep:
    fresh = RequestStep.objects.select_related("request", "request__subject").get(pk=step.pk)
    fresh.attempts = step.attempts  # keep this claim's fencing number
    return fresh


def step_run(*, step_id: int, enqueue: bool = True) -> str:
    """Run one step if this worker can claim it; with `enqueue`, send the next step to a worker
    once this one is committed. Returns what happened (for logs and tests)."""
    step = step_claim(step_id)
    if step is None:
        return "not claimed"
    return _step_execute(step, enqueue=enqueue)


def _step_execute(step: RequestStep, *, enqueue: bool) -> str:
    """Run one claimed step on its own: its effect and completion in one transaction."""
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
    except Exception as exc:
        return _step_outcome(step, exc)
    return "done"


def _step_outcome(step: RequestStep, exc: Exception) -> str:
    """What a runner's exception does to its step (after its transaction rolled back)."""
    if isinstance(exc, Waiting):
        step_settle(step, status=RequestStep.Status.WAITING, lease_until=None)
        request_status_set(step.request, DataSubjectRequest.Status.AWAITING_EXTERNAL)
        systems_check(step.request_id)  # every callback may have arrived meanwhile
        return "waiting"
    if isinstance(exc, Blocked):
        _block(step, str(exc))
        return "blocked"
    if isinstance(exc, StepFailed):
        _fail(step, str(exc))
        return "failed"
    # any other failure: retried by the sweeper with backoff
    logger.error("dsar step %s (%s) failed", step.pk, step.name, exc_info=exc)
    _release(step, f"{type(exc).__name__}")
    return "retry"


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
