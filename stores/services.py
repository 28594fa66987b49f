"""Writes for connected stores: connection checks, discovery runs and the dataset map they
propose, an officer's approval (which feeds the data map and the Art. 30 record), and each
request's work in each store (find, export, erase), isolated store by store.

Nothing here logs, audits or raises a value read from a store: audit rows carry table and
column names and counts, errors carry `connection.error_describe` labels.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_alert_raise, audit_record
from consent.services import processing_activity_save
from profiles.crypto.keyring import DecryptionError
from profiles.services.keys import keys_shred
from profiles.services.systems import system_declare
from stores.connection import error_describe, store_connection, store_session
from stores.discovery import TableInfo, introspect, propose_strategies, sample_and_classify
from stores.models import ConnectedStore, StoreColumn, StoreDataset, StoreTask
from stores.rows import rows_erase, rows_export, rows_find, rows_where
from stores.selectors import store_plans, stores_in_use

logger = logging.getLogger(__name__)

EXPORT_KINDS = {"access", "portability"}
ERASURE_KINDS = {"erasure"}
# A correction cannot be mapped onto a legacy schema safely: the rows are found and listed
# (tables, columns, counts) for an officer, who corrects them and records how.
MANUAL_KINDS = {"rectification"}


def _audit(store: ConnectedStore, actor: Actor, action: str, reason: str = "", **kw: Any) -> None:
    audit_record(
        actor=actor,
        action=f"stores.{action}",
        object_type="stores.connectedstore",
        object_id=store.pk,
        reason=reason[:500],
        **kw,
    )


def store_check(*, store: ConnectedStore, actor: Actor) -> str:
    """Connect with the read credentials (and the write ones, if set) and run `SELECT 1`.
    Records and returns a PII-free result line."""
    results = []
    for write in (False, True):
        if write and not (store.write_user or store.dialect == ConnectedStore.Dialect.SQLITE):
            continue
        label = "write" if write else "read"
        try:
            with store_connection(store, write=write) as conn:
                conn.exec_driver_sql("SELECT 1")
            results.append(f"{label}: ok")
        except Exception as exc:  # a store's failure is a result here, not an error
            results.append(f"{label}: {error_describe(exc)}")
    line = "; ".join(results)[:200]
    ConnectedStore.objects.filter(pk=store.pk).update(
        last_check_at=timezone.now(), last_check_result=line
    )
    store.last_check_result = line
    _audit(store, actor, "check", reason=line)
    return line


def store_discover(*, store: ConnectedStore, actor: Actor) -> dict[str, Any]:
    """Introspect the store and classify its columns (values sampled in memory, never kept),
    then merge the result into the dataset map: new tables are proposed; in tables already
    mapped, new columns are added and, if they look personal, flagged on the workspace.
    Returns PII-free counts."""
    with store_connection(store) as conn:
        tables = introspect(conn, prefix=store.table_prefix)
        for table in tables:
            sample_and_classify(conn, table)
    propose_strategies(tables)
    now = timezone.now()
    summary: dict[str, Any] = {"tables": len(tables), "personal_columns": 0, "new_columns": []}
    with transaction.atomic():
        for table in tables:
            _dataset_merge(store, table, now, summary)
        ConnectedStore.objects.filter(pk=store.pk).update(last_discovery_at=now)
        _audit(
            store,
            actor,
            "discover",
            reason=f"{summary['tables']} tables, {summary['personal_columns']} personal columns",
        )
        if summary["new_columns"]:
            names = ", ".join(summary["new_columns"][:10])
            audit_alert_raise(
                kind="stores.new_columns",
                message=f"Store {store.name}: new columns look personal ({names}); "
                "review its dataset map",
            )
    return summary


def _dataset_merge(
    store: ConnectedStore, table: TableInfo, now: Any, summary: dict[str, Any]
) -> None:
    dataset, created = StoreDataset.objects.get_or_create(
        store=store,
        table=table.name,
        defaults={
            "primary_key": table.primary_key,
            "foreign_keys": table.foreign_keys,
            "discovered_at": now,
        },
    )
    if not created:
        StoreDataset.objects.filter(pk=dataset.pk).update(
            primary_key=table.primary_key, foreign_keys=table.foreign_keys, discovered_at=now
        )
    known = set(dataset.columns.values_list("name", flat=True))
    for col in table.columns:
        summary["personal_columns"] += bool(col.category)
        if col.name in known:
            continue
        flag = not created and bool(col.category)
        StoreColumn.objects.create(
            dataset=dataset,
            name=col.name,
            sql_type=col.sql_type,
            kind=col.kind,
            nullable=col.nullable,
            unique=col.unique,
            max_length=col.max_length,
            category=col.category,
            identity_kind=col.identity_kind,
            strategy=col.strategy if created else StoreColumn.Strategy.KEEP,
            confidence=col.confidence,
            sampled=col.sampled,
            matched=col.matched,
            reason=col.reason,
            is_new=flag,
        )
        if flag:
            summary["new_columns"].append(f"{table.name}.{col.name}")


def column_problems(column: StoreColumn) -> list[str]:
    """Why a column's strategy cannot work on its type (empty when it can)."""
    strategy, kind = column.strategy, column.kind
    problems = []
    if strategy == StoreColumn.Strategy.SET_NULL and not column.nullable:
        problems.append(f"{column.name}: NOT NULL, cannot be set to NULL")
    if strategy == StoreColumn.Strategy.HASH and kind != StoreColumn.Kind.TEXT:
        problems.append(f"{column.name}: a keyed hash needs a text column")
    if (
        strategy == StoreColumn.Strategy.MASK
        and kind in ("binary", "other")
        and not column.nullable
    ):
        problems.append(f"{column.name}: no mask for this type; delete the row instead")
    if strategy == StoreColumn.Strategy.HASH and column.max_length and column.max_length < 10:
        problems.append(f"{column.name}: too short for a keyed hash")
    return problems


def dataset_approve(*, dataset: StoreDataset, actor: Actor) -> StoreDataset:
    """Approve a reviewed dataset: its strategies must fit their columns. Its categories go to
    the store's system in the data map, and that system to the store's Art. 30 activities.
    Raises ValidationError listing every problem."""
    problems = [p for c in dataset.columns.all() for p in column_problems(c)]
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        StoreDataset.objects.filter(pk=dataset.pk).update(
            status=StoreDataset.Status.APPROVED,
            approved_at=timezone.now(),
            approved_by=actor.label[:150],
        )
        dataset.columns.update(is_new=False)
        dataset.refresh_from_db()
        _audit(dataset.store, actor, "dataset.approve", reason=dataset.table)
        store_data_map_update(store=dataset.store, actor=actor)
    return dataset


def dataset_ignore(*, dataset: StoreDataset, actor: Actor) -> None:
    with transaction.atomic():
        StoreDataset.objects.filter(pk=dataset.pk).update(status=StoreDataset.Status.IGNORED)
        dataset.columns.update(is_new=False)
        _audit(dataset.store, actor, "dataset.ignore", reason=dataset.table)
        store_data_map_update(store=dataset.store, actor=actor)


def store_data_map_update(*, store: ConnectedStore, actor: Actor) -> None:
    """The store's system in the data map holds the categories of its approved datasets (the
    description lists them per table); the store's activities list that system."""
    approved = StoreDataset.objects.filter(store=store, status=StoreDataset.Status.APPROVED)
    lines, categories, datasets = [], set(), []
    for dataset in approved.prefetch_related("columns"):
        found = dataset.categories
        categories.update(found)
        datasets.append({"name": dataset.table, "categories": found})
        lines.append(f"{dataset.table}: {', '.join(found) or 'no personal data'}")
    system = system_declare(
        name=f"Store: {store.name}",
        categories=sorted(categories),
        datasets=datasets,
        description="Connected SQL store. Approved datasets:\n" + "\n".join(lines),
        actor=actor,
        system=store.system,
    )
    if store.system_id != system.pk:
        ConnectedStore.objects.filter(pk=store.pk).update(system=system)
        store.system = system
    for activity in store.activities.all():
        if not activity.systems.filter(pk=system.pk).exists():
            processing_activity_save(
                activity=activity,
                actor=actor,
                systems=[*activity.systems.all(), system],
                changed=["systems"],
            )


def store_tasks_prepare(
    *, request_id: uuid.UUID, reference: str, region: str, kind: str, identifiers: list[dict]
) -> list[StoreTask]:
    """One task per store in use (created once; identifiers captured at creation)."""
    tasks = []
    for store in stores_in_use():
        defaults: dict[str, Any] = {
            "id": uuid.uuid4(),
            "request_reference": reference,
            "region": region,
            "kind": kind,
            "identifiers": identifiers,
        }
        task, _ = StoreTask.objects.get_or_create(
            request_id=request_id, store=store, defaults=defaults
        )
        tasks.append(task)
    return tasks


def store_task_run(*, task: StoreTask) -> bool:
    """Do a request's work in one store. Exports are kept encrypted on the task until the
    archive takes them; an erasure runs in one transaction in the store. A failure is recorded
    on the task (PII-free) and returned as False; it never propagates."""
    if task.status in (StoreTask.Status.DONE, StoreTask.Status.EXCEPTED, StoreTask.Status.MANUAL):
        return True
    store = task.store
    identifiers: Any = task.identifiers  # decrypted on access
    try:
        plans = store_plans(store=store)
        if task.kind in ERASURE_KINDS:
            with store_session(store, write=True) as conn:
                found = rows_find(conn, plans, identifiers)
                result = {
                    "rows_found": found.count(),
                    **rows_erase(conn, plans, found, store.hash_key),
                }
            export: dict[str, Any] = {}
        elif task.kind in MANUAL_KINDS:
            with store_session(store) as conn:
                found = rows_find(conn, plans, identifiers)
            export = {}
            result = {"rows_found": found.count(), "correct_by_hand": rows_where(found, plans)}
        else:
            with store_session(store) as conn:
                found = rows_find(conn, plans, identifiers)
            export = rows_export(found, plans)
            result = {"rows_found": found.count(), "tables": sorted(export)}
    except Exception as exc:  # isolation: one store's failure stays on its task
        error = error_describe(exc)
        logger.warning("store %s failed for request %s: %s", store.pk, task.request_id, error)
        StoreTask.objects.filter(pk=task.pk, status__in=["pending", "failed"]).update(
            status=StoreTask.Status.FAILED, attempts=task.attempts + 1, last_error=error
        )
        return False
    saved: Any = task  # the encrypted field takes a dict; it is sealed on save
    saved.export, saved.result = export, result
    manual = task.kind in MANUAL_KINDS and result["rows_found"] > 0
    task.status = StoreTask.Status.MANUAL if manual else StoreTask.Status.DONE
    task.attempts, task.last_error = task.attempts + 1, ""
    task.save(update_fields=["export", "result", "status", "attempts", "last_error", "updated_at"])
    audit_record(
        actor=Actor.system("stores"),
        action=f"stores.{_action(task.kind)}",
        object_type="stores.connectedstore",
        object_id=store.pk,
        reason=f"request {task.request_reference}: {result['rows_found']} rows",
        region=task.region,
    )
    return True


def _action(kind: str) -> str:
    if kind in ERASURE_KINDS:
        return "erase"
    return "locate" if kind in MANUAL_KINDS else "export"


def store_tasks_run(*, request_id: uuid.UUID) -> dict[str, Any]:
    """Run every store task of a request not yet done; each store on its own. `manual` lists
    the stores whose rows an officer must correct by hand (a rectification)."""
    summary: dict[str, Any] = {"done": [], "failed": {}, "excepted": [], "manual": []}
    for task in StoreTask.objects.filter(request_id=request_id).select_related("store"):
        if task.status == StoreTask.Status.EXCEPTED:
            summary["excepted"].append(task.store.name)
        elif store_task_run(task=task):
            done = task.status != StoreTask.Status.MANUAL
            summary["done" if done else "manual"].append(task.store.name)
        else:
            task.refresh_from_db(fields=["last_error"])
            summary["failed"][task.store.name] = task.last_error
    return summary


def store_task_retry(*, task: StoreTask, actor: Actor) -> None:
    """An officer retries one failed store (after fixing its cause)."""
    with transaction.atomic():
        StoreTask.objects.filter(pk=task.pk, status=StoreTask.Status.FAILED).update(
            status=StoreTask.Status.PENDING, last_error=""
        )
        _audit(task.store, actor, "task.retry", reason=f"request {task.request_reference}")


def store_task_corrected(*, task: StoreTask, actor: Actor, evidence: str) -> None:
    """An officer corrected by hand the rows a rectification listed in one store, and says how
    (no personal data): the store's part is done."""
    if not evidence.strip():
        raise ValidationError("Say how the rows were corrected.")
    with transaction.atomic():
        StoreTask.objects.filter(pk=task.pk, status=StoreTask.Status.MANUAL).update(
            status=StoreTask.Status.DONE, evidence=evidence[:300], closed_by=actor.label[:150]
        )
        _audit(task.store, actor, "task.corrected", reason=f"request {task.request_reference}")


def store_task_except(*, task: StoreTask, actor: Actor, reason: str) -> None:
    """An officer closes one store's part of a request with a recorded exception (e.g. the
    database was decommissioned): the request can complete without it."""
    if not reason.strip():
        raise ValidationError("An exception needs a reason.")
    with transaction.atomic():
        StoreTask.objects.filter(pk=task.pk).exclude(status=StoreTask.Status.DONE).update(
            status=StoreTask.Status.EXCEPTED,
            exception_reason=reason[:300],
            closed_by=actor.label[:150],
        )
        _audit(
            task.store,
            actor,
            "task.except",
            reason=f"request {task.request_reference}: {reason}",
        )


def stores_export_take(*, request_id: uuid.UUID) -> dict[str, dict[str, list[dict]]]:
    """The rows each store exported for a request ({store: {table: rows}}), then their keys are
    destroyed in the caller's transaction: the archive becomes their only copy."""
    tasks = list(
        StoreTask.objects.filter(request_id=request_id, status=StoreTask.Status.DONE)
        .select_related("store")
        .order_by("store__name")
    )
    content: dict[str, Any] = {}
    for task in tasks:
        try:
            export: Any = task.export
        except DecryptionError:  # taken by an earlier archive of this request
            continue
        if export:
            content[task.store.name] = export
    keys_shred(owner_ids=[t.pk for t in tasks])
    return content


def store_tasks_forget(*, request_id: uuid.UUID) -> int:
    """Destroy the identifiers a request's store tasks kept (once every store is done)."""
    return keys_shred(
        owner_ids=StoreTask.objects.filter(request_id=request_id).values_list("pk", flat=True)
    )
