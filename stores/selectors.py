"""Reads of connected stores: the approved dataset map as plans the row finder and eraser use,
and a request's store tasks. Holds no subject data (store tasks' encrypted fields are read
only by services)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from stores.models import ConnectedStore, StoreColumn, StoreDataset, StoreTask
from stores.rows import ColumnPlan, TablePlan, link_of


def store_plans(*, store: ConnectedStore) -> list[TablePlan]:
    """One plan per approved table, columns in table order, with their strategies."""
    datasets = StoreDataset.objects.filter(
        store=store, status=StoreDataset.Status.APPROVED
    ).prefetch_related("columns")
    return [
        TablePlan(
            name=d.table,
            primary_key=list(d.primary_key),
            foreign_keys=[link_of(fk) for fk in d.foreign_keys],
            columns=[
                ColumnPlan(
                    name=c.name,
                    kind=c.kind,
                    nullable=c.nullable,
                    strategy=c.strategy,
                    identity_kind=c.identity_kind,
                    max_length=c.max_length,
                    category=c.category,
                )
                for c in d.columns.all()
            ],
        )
        for d in datasets
    ]


def stores_in_use() -> QuerySet[ConnectedStore]:
    """Active stores with at least one approved dataset: the ones requests reach."""
    return ConnectedStore.objects.filter(
        active=True, datasets__status=StoreDataset.Status.APPROVED
    ).distinct()


def store_tasks_of(*, request_id: uuid.UUID) -> QuerySet[StoreTask]:
    return StoreTask.objects.filter(request_id=request_id).select_related("store")


def columns_flagged_new(*, store: ConnectedStore) -> QuerySet[StoreColumn]:
    return StoreColumn.objects.filter(dataset__store=store, is_new=True).exclude(category="")
