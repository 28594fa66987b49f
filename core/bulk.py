"""Set-based writes Django's ORM makes slowly: one statement that gives each row its own
value of a column (`bulk_update` builds a CASE expression per row, which costs more in Python
than the statement costs the database)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import timezone

Row = dict[str, Any]  # attname -> value (values of encrypted fields already sealed)


def rows_set_json(
    model: type[models.Model], column: str, values: Mapping[Any, Any], **common: Any
) -> int:
    """Set `column` (a JSONField) of each row `pk` to `values[pk]` and every field named in
    `common` to its value, in one UPDATE ... FROM (VALUES ...) statement. Returns the row count.
    Field names and table come from the model, never from callers' data."""
    value_cast = "CAST(v.column2 AS jsonb)" if connection.vendor == "postgresql" else "v.column2"
    encoded = {key: json.dumps(value, default=str) for key, value in values.items()}
    return _rows_set(model, column, value_cast, encoded, common)


def rows_set(
    model: type[models.Model], column: str, values: Mapping[Any, Any], **common: Any
) -> int:
    """Set `column` of each row `pk` to `values[pk]` (none of them None) and every field named
    in `common` to its value, in one UPDATE ... FROM (VALUES ...) statement. Returns the row
    count. Field names and table come from the model, never from callers' data."""
    target = _concrete(model, column)
    prepared = {key: target.get_db_prep_save(value, connection) for key, value in values.items()}
    return _rows_set(model, column, "v.column2", prepared, common)


def _rows_set(
    model: type[models.Model],
    column: str,
    value_sql: str,
    values: Mapping[Any, Any],
    common: Mapping[str, Any],
) -> int:
    if not values:
        return 0
    meta = model._meta
    table, pk = meta.db_table, meta.pk
    target = _concrete(model, column)
    sets = [f'"{target.column}" = {value_sql}']
    params: list[Any] = []
    for name, value in common.items():
        field = _concrete(model, name)
        sets.append(f'"{field.column}" = %s')
        params.append(field.get_db_prep_save(value, connection))
    rows = ", ".join(["(%s, %s)"] * len(values))
    for key, value in values.items():
        params += [pk.get_db_prep_value(key, connection), value]
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


# Column types whose Python values SQLite's driver cannot take as they are (psycopg can).
_CONVERTED = {"UUIDField", "DateTimeField", "ForeignKey", "BinaryField", "JSONField"}


def rows_insert(
    model: type[models.Model],
    rows: Sequence[Row],
    *,
    update: Sequence[str] = (),
    ignore_conflicts: bool = False,
) -> None:
    """Insert rows given as {attname: value} (the same keys in every row; encrypted values
    sealed already) in one statement: on PostgreSQL a COPY for plain inserts, INSERT ...
    SELECT FROM json_array_elements(the rows as one JSON text) with a conflict clause; one
    prepared statement run per row (executemany) on SQLite.
    A column the rows leave out takes the field's default (auto dates: now), computed once.
    `update`: a row whose primary key exists gets these columns updated (ON CONFLICT (pk) DO
    UPDATE);
    `ignore_conflicts`: a row breaking a unique constraint is skipped."""
    if not rows:
        return
    quote = connection.ops.quote_name
    # An auto-increment primary key is left to the database, as bulk_create does.
    fields = [f for f in model._meta.concrete_fields if f is not model._meta.auto_field]
    now = timezone.now()
    defaults = {
        f.attname: now
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in fields
        if f.attname not in rows[0]
    }
    count = len(rows)
    columns = [
        [defaults[f.attname]] * count if f.attname in defaults else [row[f.attname] for row in rows]
        for f in fields
    ]
    conflict = ""
    if update:
        sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        pk = quote(str(model._meta.pk.column if model._meta.pk else "id"))
        conflict = f" ON CONFLICT ({pk}) DO UPDATE SET {sets}"
    elif ignore_conflicts:
        conflict = " ON CONFLICT DO NOTHING"
    column_list = ", ".join(quote(str(f.column)) for f in fields)
    head = f"INSERT INTO {quote(model._meta.db_table)} ({column_list})"
    if connection.vendor == "postgresql" and not conflict:
        _copy_in(model, fields, columns, count)
        return
    if connection.vendor == "postgresql":
        for n, f in enumerate(fields):
            columns[n] = _for_json(f, columns[n])
        # The rows travel as one JSON text (serialized in C, parsed by the server) instead of
        # one array per column, which psycopg dumps element by element in Python.
        values = ", ".join(_json_column(f, n) for n, f in enumerate(fields))
        sql = f"{head} SELECT {values} FROM json_array_elements(%s::json) AS r{conflict}"  # noqa: S608 - our names
        with _server_binding_cursor() as cursor:
            cursor.execute(sql, [json.dumps(list(zip(*columns, strict=True)))])
        return
    with connection.cursor() as cursor:
        for n, f in enumerate(fields):
            columns[n] = _for_sqlite(f, columns[n])
        placeholders = ", ".join(["%s"] * len(fields))
        cursor.executemany(
            f"{head} VALUES ({placeholders}){conflict}", list(zip(*columns, strict=True))
        )


def _copy_in(
    model: type[models.Model], fields: list[models.Field], columns: list[list[Any]], count: int
) -> None:
    """Plain inserts on PostgreSQL: COPY ... FROM STDIN, its rows formatted by psycopg's C
    text dumpers and parsed by the server's COPY reader, the cheapest way in for both sides
    (about half the server time of INSERT ... SELECT FROM json_array_elements for ten
    thousands of narrow rows). Logged like any statement (`connection.queries`, query
    budgets)."""
    quote = connection.ops.quote_name
    for n, f in enumerate(fields):
        if f.get_internal_type() == "JSONField":  # JSON text, parsed by jsonb's input
            columns[n] = [None if v is None else json.dumps(v) for v in columns[n]]
    sql = (
        f"COPY {quote(model._meta.db_table)} "
        f"({', '.join(quote(str(f.column)) for f in fields)}) FROM STDIN"
    )
    started = time.monotonic()
    connection.ensure_connection()
    # Django's error wrapper: a unique violation is an IntegrityError, as from any statement.
    with (
        connection.wrap_database_errors,
        connection.connection.cursor() as cursor,
        cursor.copy(sql) as copy,
    ):
        for row in zip(*columns, strict=True):
            copy.write_row(row)
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{sql} -- {count} rows", "time": f"{time.monotonic() - started:.3f}"}
        )


def _for_sqlite(f: models.Field, values: list[Any]) -> list[Any]:
    """Column values as SQLite's driver takes them (as `get_db_prep_value` converts them)."""
    kind = f.get_internal_type()
    target = f.target_field.get_internal_type() if f.is_relation else kind  # type: ignore[attr-defined]
    if target == "UUIDField":
        return [v.hex if isinstance(v, uuid.UUID) else v for v in values]
    if kind == "DateTimeField":
        adapt = connection.ops.adapt_datetimefield_value
        return [adapt(v) for v in values]
    if kind in _CONVERTED:
        return [f.get_db_prep_value(v, connection, prepared=False) for v in values]
    return values


def _json_column(f: models.Field, n: int) -> str:
    """Column `n` of a JSON row array, cast to the field's type on PostgreSQL."""
    if f.get_internal_type() == "JSONField":
        return f"(r->{n})::jsonb"
    return f"(r->>{n})::{f.db_type(connection)}"


def _for_json(f: models.Field, values: list[Any]) -> list[Any]:
    """Column values as JSON carries them to PostgreSQL's input functions (text for ids,
    times and bytes; JSON values as they are)."""
    kind = f.get_internal_type()
    target = f.target_field.get_internal_type() if f.is_relation else kind  # type: ignore[attr-defined]
    if target == "UUIDField":  # 32 hex digits: PostgreSQL's uuid input takes them as well
        return [v.hex if isinstance(v, uuid.UUID) else v for v in values]
    if kind == "DateTimeField":
        return [None if v is None else v.isoformat() for v in values]
    if kind == "BinaryField":
        return [None if v is None else "\\x" + bytes(v).hex() for v in values]
    return values


def _server_binding_cursor() -> Any:
    """A PostgreSQL cursor binding parameters on the server (column arrays are sent as
    arrays by psycopg's C dumpers, not quoted into the SQL text as Django's default client
    cursor does), wrapped like every Django cursor (query log, execute wrappers)."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    wrapper: Any = connection  # _prepare_cursor is Django's own hook, not in the stubs
    return wrapper._prepare_cursor(cast(Any, ServerBindingCursor)(connection.connection))


def any_of(values: Iterable[Any]) -> Any:
    """The right side of an `__in` lookup over many ids or index strings. On PostgreSQL one
    JSON text unnested by the server (`IN (SELECT json_array_elements_text(...))`): Django's
    client-side cursor otherwise quotes and splices every value into the SQL text in Python,
    which costs more than the query for thousands of values. Elsewhere the values as a list."""
    items = list(values)
    if connection.vendor != "postgresql" or not items:
        return items
    cast_to = ""
    if isinstance(items[0], uuid.UUID):
        items, cast_to = [v.hex for v in items], "::uuid"
    sql = f"SELECT json_array_elements_text(%s::json){cast_to}"
    return RawSQL(sql, [json.dumps(items)])  # noqa: S611 - fixed SQL, values as one parameter
