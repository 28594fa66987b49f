"""The API's pagination: limit/offset pages with a maximum page size, and keyset pages for
long lists walked to the end (a destination's audience).

`limit` above CUSTODIA_MAX_PAGE_SIZE is capped to it (the response's `next` link continues);
`limit` or `offset` that is not a whole number from 1 (0 for offset) to 2**63-1 is refused with
400 `invalid`, rather than ignored or passed on to the database to overflow. A keyset cursor
(`?after=<uuid>`) that is not a UUID is refused with 400 too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.functional import lazy
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings

INT64_MAX = 2**63 - 1
_DIGITS = re.compile(r"^[0-9]{1,19}$")


def int_query_param(request: Request, name: str, *, minimum: int, default: int) -> int:
    """A whole-number query parameter in [minimum, 2**63-1], or `default` when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _DIGITS.match(raw) or not minimum <= int(raw) <= INT64_MAX:
        raise ValidationError({name: [f"Give a whole number from {minimum} to {INT64_MAX}."]})
    return int(raw)


def uuid_query_param(request: Request, name: str) -> uuid.UUID | None:
    """A keyset cursor given as a UUID query parameter, or None when absent or empty."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationError({name: ["Not a cursor."]}) from exc


def keyset_page(
    rows: QuerySet,
    *,
    after: Any,
    limit: int,
    keep: Callable[[list[Any]], list[Any]] | None = None,
    batch: int = 500,
    fields: tuple[str, ...] = (),
) -> tuple[list[Any], Any]:
    """One page of the primary keys of `rows` after the cursor `after` (None: from the start),
    in primary-key order: each query reads the next `max(limit, batch)` keys from an index
    (`pk > cursor`), so every page costs the same however deep it is. `keep` filters a batch
    (keys in, kept keys out, in order), and the page fills across batches. With `fields`, each
    key comes as a tuple `(pk, *fields)` read in the same ordered query (so `keep` need not read
    the rows again). Returns (keys, the cursor of the next page, None at the end)."""
    rows = rows.order_by("pk")
    size = max(limit, batch)
    found: list[Any] = []
    cursor = after
    while len(found) < limit:
        page = rows.filter(pk__gt=cursor) if cursor else rows
        keys = list(
            page.values_list("pk", *fields)[:size]
            if fields
            else page.values_list("pk", flat=True)[:size]
        )
        for key in keep(keys) if keep is not None else keys:
            found.append(key)
            if len(found) == limit:
                return found, key[0] if fields else key
        if len(keys) < size:
            return found, None
        cursor = keys[-1][0] if fields else keys[-1]
    return found, cursor


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    # DRF declares these as plain attributes; properties read the settings per request.
    @property
    def default_limit(self) -> int:  # type: ignore[override]
        return min(int(api_settings.PAGE_SIZE or self.max_limit), self.max_limit)

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return settings.CUSTODIA_MAX_PAGE_SIZE

    def get_limit(self, request: Request) -> int:
        limit = int_query_param(
            request, self.limit_query_param, minimum=1, default=self.default_limit
        )
        return min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return int_query_param(request, self.offset_query_param, minimum=0, default=0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            is_limit = parameter["name"] == self.limit_query_param
            parameter["schema"] = _int64_schema(minimum=1 if is_limit else 0)
            if is_limit:
                parameter["description"] = self.limit_description()
        return parameters

    def limit_description(self) -> str:
        return (
            f"Number of results to return per page (default {self.default_limit}; "
            f"a larger value is capped to {self.max_limit})."
        )


def _int64_schema(*, minimum: int) -> dict:
    return {"type": "integer", "format": "int64", "minimum": minimum, "maximum": INT64_MAX}


def page_parameters() -> list[OpenApiParameter]:
    """`limit` and `offset` for the schema of a list that paginates without a generic view."""
    return [
        OpenApiParameter(
            "limit",
            _int64_schema(minimum=1),
            # Lazy: views build their schema declarations at import, settings apply per request.
            description=lazy(lambda: BoundedLimitOffsetPagination().limit_description(), str)(),
        ),
        OpenApiParameter(
            "offset",
            _int64_schema(minimum=0),
            description="The initial index from which to return the results.",
        ),
    ]
