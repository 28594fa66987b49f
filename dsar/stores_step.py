"""The pipeline's "stores" step: each connected SQL store (stores app) does its part of an
access, portability or erasure request, isolated from the others.

- every store runs on its own; one that fails (down, timeout, constraint error) is recorded on
  its task with a PII-free reason while the others go on;
- while any store is not done or excepted the step raises `StoresPending`, so the engine
  retries it with backoff (only the stores not done yet run again), and after MAX_ATTEMPTS
  fails it for an officer;
- an officer retries one store or closes it with a recorded exception
  (dsar/store_actions.py); either wakes the step again. The request completes only when every
  store is done or excepted;
- a rectification finds the subject's rows in each store and lists where they are (tables,
  columns, counts: no values) on a manual store task; the step waits until an officer has
  corrected each store by hand and said how (or closed it with an exception);
- an opt-out, a restriction or an objection changes nothing in a store (the hub's consent
  decisions carry it, and a store holds no consent state): the step says so in the timeline
  and its result, and creates no task.

The archive takes the exported rows through `stores_archive_section` and
`stores_archive_files` (dsar/archive.py calls them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from audit.actors import Actor
from dsar.models import DataSubjectRequest
from dsar.record import timeline_add
from stores import services as store_services
from stores.selectors import stores_in_use

STORE_KINDS = {"access", "portability", "erasure"}  # the hub does the work in each store
MANUAL_KINDS = {"rectification"}  # the hub finds the rows, an officer corrects them
NO_ACTION_KINDS = {"opt_out", "restriction", "objection"}  # recorded: nothing to do in a store
STEP_KINDS = STORE_KINDS | MANUAL_KINDS | NO_ACTION_KINDS
NO_ACTION = (
    "needs no change in connected stores: the hub's consent decisions carry it "
    "(a store holds no consent state)"
)


class StoresPending(Exception):
    """Some stores failed this time; the engine retries the step with backoff."""


def stores_run(
    request: DataSubjectRequest, *, identifiers: list[dict[str, str]], actor: Actor
) -> dict[str, Any]:
    """The request's part in every store in use. Raises StoresPending while a store failed;
    returns `waiting: True` while a store waits for an officer's correction."""
    if request.kind in NO_ACTION_KINDS:
        names = sorted(s.name for s in stores_in_use())
        timeline_add(
            request=request,
            actor=actor,
            kind="system",
            message=f"stores: {request.get_kind_display()} {NO_ACTION} ({', '.join(names)})"[:300],
        )
        return {"stores": names, "store_action": "none", "why": NO_ACTION}
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
    if summary["manual"]:
        for name in summary["manual"]:
            timeline_add(
                request=request,
                actor=actor,
                kind="system",
                message=f"store {name}: the subject's rows are listed on its store task; "
                "an officer corrects them by hand and records how",
            )
        return {"waiting": True}
    if request.kind == "erasure":
        store_services.store_tasks_forget(request_id=request.pk)
    return {"stores_done": summary["done"], "stores_excepted": summary["excepted"]}


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
