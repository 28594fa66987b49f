"""What an officer does about one store of a request: retry it, or close it with a recorded
exception; either wakes the request's "stores" step (dsar/stores_step.py)."""

from __future__ import annotations

from django.db import transaction

from audit.actors import Actor
from dsar import engine
from dsar.models import DataSubjectRequest, RequestStep
from dsar.record import request_audit, timeline_add
from stores import services as store_services
from stores.models import StoreTask


def _wake(task: StoreTask, actor: Actor) -> None:
    """Run the request's stores step again soon (a failed step starts its attempts again; a
    waiting one, after an officer's correction, runs again)."""
    step = RequestStep.objects.filter(request_id=task.request_id, name="stores").first()
    if step is None:
        return
    if step.status == RequestStep.Status.WAITING:
        RequestStep.objects.filter(pk=step.pk, status=RequestStep.Status.WAITING).update(
            status=RequestStep.Status.PENDING, lease_until=None
        )
        request = DataSubjectRequest.objects.get(pk=task.request_id)
        engine.request_status_set(request, DataSubjectRequest.Status.IN_PROGRESS)
        transaction.on_commit(lambda: engine.enqueue_next(task.request_id))
    elif step.status == RequestStep.Status.FAILED:
        engine.step_retry(step=step, actor=actor)
    elif step.status == RequestStep.Status.PENDING:
        RequestStep.objects.filter(pk=step.pk, status=RequestStep.Status.PENDING).update(
            lease_until=None
        )
        transaction.on_commit(lambda: engine.enqueue_next(task.request_id))


def store_retry(*, task: StoreTask, actor: Actor) -> None:
    """An officer retries one store of a request (after fixing its cause)."""
    with transaction.atomic():
        store_services.store_task_retry(task=task, actor=actor)
        request = DataSubjectRequest.objects.get(pk=task.request_id)
        timeline_add(
            request=request, actor=actor, kind="system", message=f"store {task.store.name}: retry"
        )
        _wake(task, actor)


def store_corrected(*, task: StoreTask, actor: Actor, evidence: str) -> None:
    """An officer corrected a rectification's rows in one store by hand and records how."""
    with transaction.atomic():
        store_services.store_task_corrected(task=task, actor=actor, evidence=evidence)
        request = DataSubjectRequest.objects.get(pk=task.request_id)
        timeline_add(
            request=request,
            actor=actor,
            kind="decision",
            message=f"store {task.store.name} corrected by hand: {evidence}"[:300],
        )
        request_audit(request, actor, "store_corrected", reason=task.store.name[:500])
        _wake(task, actor)


def store_except(*, task: StoreTask, actor: Actor, reason: str) -> None:
    """An officer closes one store's part with a recorded exception (in the timeline and the
    audit log): the request completes without it."""
    with transaction.atomic():
        store_services.store_task_except(task=task, actor=actor, reason=reason)
        request = DataSubjectRequest.objects.get(pk=task.request_id)
        timeline_add(
            request=request,
            actor=actor,
            kind="decision",
            message=f"store {task.store.name} closed with an exception: {reason}"[:300],
        )
        request_audit(
            request, actor, "store_exception", reason=f"{task.store.name}: {reason}"[:500]
        )
        _wake(task, actor)
