"""Admin mixins every app shares (no models here: core owns no data)."""

from __future__ import annotations

import functools
import json
from functools import cached_property
from typing import Any, ClassVar

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Records that are proof or machine-written: shown, never added, edited or deleted in the
    admin. Put it before the ModelAdmin base: `class X(ReadOnlyAdminMixin, admin.ModelAdmin)`."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def secret_shown_once(request: HttpRequest, what: str, secret: str) -> None:
    """Show a generated secret to the officer once (a message on the next page); it is never
    displayed again. `what` names it, e.g. "Shared secret of Shop"."""
    messages.warning(request, f"{what}, copy it now, it will not be shown again: {secret}")


class EstimatedCountPaginator(Paginator):
    """A changelist's paginator for tables of millions of rows (the audit log, the consent
    ledger, subjects): on PostgreSQL, when the planner expects at least
    CUSTODIA_ADMIN_EXACT_COUNT_BELOW rows, the count comes from that estimate (EXPLAIN, from
    the table's statistics) instead of a COUNT(*) that reads every row on every page; smaller
    results, and every other database, are counted exactly."""

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        db = getattr(rows, "db", None)
        if hasattr(rows, "query") and db and connections[db].vendor == "postgresql":
            estimate = _planned_rows(rows)
            if estimate is not None and estimate >= settings.CUSTODIA_ADMIN_EXACT_COUNT_BELOW:
                return estimate
        return super().count


def _planned_rows(rows: Any) -> int | None:
    """The number of rows PostgreSQL's planner expects the queryset `rows` to return."""
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # `.none()`, `pk__in=[]`: no SQL, Django counts it without a query
        return None
    with connections[rows.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str | bytes):  # a driver that does not parse json
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class LargeTableAdminMixin:
    """The changelist of a table of millions of rows (the audit log, the consent ledger,
    subjects, the inbox): counted by `EstimatedCountPaginator`, no second count of the whole
    table, and `list_defer`'s columns (ones the list does not show, such as an encrypted
    payload) not read for the list. Put it before the ModelAdmin base."""

    paginator: ClassVar[type] = EstimatedCountPaginator
    show_full_result_count: ClassVar[bool] = False
    list_defer: tuple[str, ...] = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        base = super().get_changelist(request, **kwargs)  # type: ignore[misc]
        return _deferring(base) if self.list_defer else base


class _DeferListMixin:
    model_admin: Any

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> Any:
        rows = super().get_queryset(request, exclude_parameters)  # type: ignore[misc]
        return rows.defer(*self.model_admin.list_defer)


@functools.cache
def _deferring(base: type[ChangeList]) -> type[ChangeList]:
    """`base` (Django's changelist, or another mixin's) reading its rows without the admin's
    `list_defer` columns."""
    return type(base.__name__, (_DeferListMixin, base), {})
