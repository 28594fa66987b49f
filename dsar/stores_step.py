"""The pipeline's "stores" step: each connected SQL store (stores app) does its part of an
access, portability or erasure request, isolated from the others.

- every store runs on its own; one that fails (down, timeout, constraint error) is recorded on
  its task with a PII-free reason while the others go on;
- while any store is not done or excepted the step raises `StoresPending`, so the engine
  retries it with backoff (only the stores not done yet run again), and after MAX_ATTEMPTS
  fails it for an officer;
- an officer retries one store (`store_retry`) or closes it with a recorded exception
  (`store_except`); either wakes the step again. The request completes only when every
  store is done or excepted.

The archive takes the exported rows through `stores_archive_section` and
`stores_archive_files` (dsar/archive.py calls them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction

from audit.actors import Actor
from dsar.models import DataSubjectRequest, RequestStep
from dsar.record import request_audit, timeline_add
from stores import services as store_services
from stores.models import StoreTask

STORE_KINDS = {"access", "portability", "erasure"}


class StoresPending(Exception):
    """Some stores failed this time; the engine retries the step with backoff."""


def stores_run(
    request: DataSubjectRequest, *, identifiers: list[dict[str, str]], actor: Actor
) -> dict[str, Any]:
    tasks = store_services.store_tasks_prepare(
        request_id=request.pk,
        reference=request.reference,
        region=request.region,
        kind=request.kind,
        identifiers=identifiers,
    )
    if not tasks:
        return {"stores": 0}
    summary = store_services.store_tasks_run(request_id=request.pk)
    for name, error in summary["failed"].items():
        timeline_add(
            request=request,
            actor=actor,
            kind="system",
            message=f"store {name} failed: {error}; retried with backoff",
        )
    if summary["failed"]:
        raise StoresPending(f"{len(summary['failed'])} store(s) not done")
    if request.kind == "erasure":
        store_services.store_tasks_forget(request_id=request.pk)
    return {"stores_done": summary["done"], "stores_excepted": summary["excepted"]}


def _wake(task: StoreTask, actor: Actor) -> None:
    """Run the request's stores step again soon (a failed step starts its attempts again)."""
    from dsar import engine

    step = RequestStep.objects.filter(request_id=task.request_id, name="stores").first()
    if step is None:
        return
    if step.status == RequestStep.Status.FAILED:
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


def stores_archive_section(request: DataSubjectRequest) -> dict[str, dict[str, list[dict]]]:
    """data.json's "stores": {store name: {table: [rows]}}. Destroys the tasks' copies in the
    caller's transaction (the archive is then the only one)."""
    return store_services.stores_export_take(request_id=request.pk)


def stores_archive_files(data: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """One CSV per store and table: (path inside the ZIP, rows)."""
    for store, tables in sorted(data.get("stores", {}).items()):
        for table, rows in sorted(tables.items()):
            yield f"stores/{_safe(store)}/{_safe(table)}.csv", rows


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "_"
