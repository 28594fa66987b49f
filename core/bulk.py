"""Set-based updates Django's ORM writes slowly: one statement that gives each row its own
value of a column (`bulk_update` builds a CASE expression per row, which costs more in Python
than the statement costs the database)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.db import connection, models


def rows_set_json(
    model: type[models.Model], column: str, values: Mapping[Any, Any], **common: Any
) -> int:
    """Set `column` (a JSONField) of each row `pk` to `values[pk]` and every field named in
    `common` to its value, in one UPDATE ... FROM (VALUES ...) statement. Returns the row count.
    Field names and table come from the model, never from callers' data."""
    if not values:
        return 0
    meta = model._meta
    table, pk = meta.db_table, meta.pk
    target = _concrete(model, column)
    value_cast = "CAST(v.column2 AS jsonb)" if connection.vendor == "postgresql" else "v.column2"
    sets = [f'"{target.column}" = {value_cast}']
    params: list[Any] = []
    for name, value in common.items():
        field = _concrete(model, name)
        sets.append(f'"{field.column}" = %s')
        params.append(field.get_db_prep_save(value, connection))
    rows = ", ".join(["(%s, %s)"] * len(values))
    for key, value in values.items():
        params += [pk.get_db_prep_value(key, connection), json.dumps(value, default=str)]
    sql = (
        f'UPDATE "{table}" SET {", ".join(sets)} FROM (VALUES {rows}) AS v '  # noqa: S608
        f'WHERE "{table}"."{pk.column}" = v.column1'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _concrete(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field
