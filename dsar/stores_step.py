"""The pipeline's "stores" step: each connected SQL store (stores app) does its part of an
access, portability or erasure request, isolated from the others.

- every store runs on its own; one that fails (down, timeout, constraint error) is recorded on
  its task with a PII-free reason while the others go on;
- while any store is not done or excepted the step raises `StoresPending`, so the engine
  retries it with backoff (only the stores not done yet run again), and after MAX_ATTEMPTS
  fails it for an officer;
- an officer retries one store or closes it with a recorded exception
  (dsar/store_actions.py); either wakes the step again. The request completes only when every
  store is done or excepted.

The archive takes the exported rows through `stores_archive_section` and
`stores_archive_files` (dsar/archive.py calls them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from audit.actors import Actor
from dsar.models import DataSubjectRequest
from dsar.record import timeline_add
from stores import services as store_services

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
