"""Admin mixins every app shares (no models here: core owns no data)."""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.contrib.admin.views.main import PAGE_VAR, ChangeList
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect


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
    results, and every other database, are counted exactly. Its pages stop at
    CUSTODIA_ADMIN_MAX_PAGE: a page is read with OFFSET, which reads every row before it."""

    @cached_property
    def num_pages(self) -> int:
        return min(Paginator.num_pages.func(self), settings.CUSTODIA_ADMIN_MAX_PAGE)  # type: ignore[attr-defined]

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


if TYPE_CHECKING:
    # The hooks the mixin below uses are ModelAdmin's: type it as one. At run time it stays
    # a plain mixin, put before the admin.
    _AdminBase = ModelAdmin
else:
    _AdminBase = object

DEEP_PAGE = (
    "The list stops at page {limit}: a deeper page reads every row before it. Narrow it with a "
    "filter (a date, a region, a status) or a search, or sort a column the other way round to "
    "see the oldest first."
)


class LargeTableAdminMixin(_AdminBase):
    """The changelist of a table of millions of rows (the audit log, the consent ledger,
    subjects, the inbox): counted by `EstimatedCountPaginator`, no second count of the whole
    table, `list_defer`'s columns (ones the list does not show, such as an encrypted payload)
    not read for the list, and a page beyond CUSTODIA_ADMIN_MAX_PAGE answered with a message
    on the first page before any query (a deep OFFSET reads every row before it). Put it
    before the ModelAdmin base."""

    paginator: ClassVar[type] = EstimatedCountPaginator
    show_full_result_count: ClassVar[bool] = False
    list_defer: tuple[str, ...] = ()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        page = request.GET.get(PAGE_VAR, "")
        limit = settings.CUSTODIA_ADMIN_MAX_PAGE
        if page.isdigit() and int(page) > limit:
            messages.warning(request, DEEP_PAGE.format(limit=limit))
            params = request.GET.copy()
            params.pop(PAGE_VAR)
            query = params.urlencode()
            return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))
        return super().changelist_view(request, extra_context)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        base = super().get_changelist(request, **kwargs)
        return _deferring(base) if self.list_defer else base


class _DeferListMixin:
    model_admin: Any

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> Any:
        rows = super().get_queryset(request, exclude_parameters)  # type: ignore[misc]
        return rows.defer(*self.model_admin.list_defer)


_DEFERRING: dict[type[ChangeList], type[ChangeList]] = {}


def _deferring(base: type[ChangeList]) -> type[ChangeList]:
    """`base` (Django's changelist, or another mixin's) reading its rows without the admin's
    `list_defer` columns (the class made once per base)."""
    if base not in _DEFERRING:
        _DEFERRING[base] = type(base.__name__, (_DeferListMixin, base), {})
    return _DEFERRING[base]
