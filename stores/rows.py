"""A subject's rows in one store: found from the identity-key columns, then by following
foreign keys across the approved tables; exported as JSON-ready rows, or erased column by
column in an order the foreign keys allow.

Erasure is idempotent: a new value is written only where it differs from the stored one
(masks are constants, a keyed hash is never hashed again), so a step that runs twice after a
crash changes nothing more.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import hmac
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

HASH_PREFIX = "h:"
TEXT_MASK = "[erased]"
MASKS: dict[str, Any] = {
    "number": 0,
    "date": dt.date(1970, 1, 1),
    "datetime": dt.datetime(1970, 1, 1),
    "json": "{}",
    "bool": False,
    "binary": b"",
}
CHUNK = 500


class StoreConnection(Protocol):
    """What the finder and eraser use of a connection: its DB-API connection (`cursor()`)
    and its dialect (quoting, placeholder style). A SQLAlchemy `Connection` has both, and so
    has `stores.connection.DriverConnection`, which the pipeline uses."""

    @property
    def connection(self) -> Any: ...

    @property
    def dialect(self) -> sa.Dialect: ...


@dataclass
class ColumnPlan:
    name: str
    kind: str
    nullable: bool = True
    strategy: str = "keep"
    identity_kind: str = ""
    max_length: int | None = None
    category: str = ""


@dataclass(frozen=True)
class Link:
    """A foreign key: `columns` of this table reference `references` of `table` (one or more
    columns each, in the same order)."""

    columns: tuple[str, ...]
    table: str
    references: tuple[str, ...]


def link_of(fk: dict[str, Any]) -> Link:
    """A foreign key as the dataset map keeps it: `{"columns": [...], "table", "references":
    [...]}`; a map discovered before composite keys holds one column, `{"column", "table",
    "references"}`."""
    columns = fk.get("columns") or [fk["column"]]
    references = fk["references"]
    if isinstance(references, str):
        references = [references]
    return Link(tuple(columns), fk["table"], tuple(references))


@dataclass
class TablePlan:
    name: str
    primary_key: list[str]
    foreign_keys: list[Link]
    columns: list[ColumnPlan] = field(default_factory=list)
    # Worked out once per plan (not per subject): column positions, the row key's positions,
    # and per column whether an exported value needs more than passing through.
    position: dict[str, int] = field(init=False, repr=False)
    key_at: list[int] = field(init=False, repr=False)
    export_as: list[tuple[str, str, bool]] = field(init=False, repr=False)
    signature: tuple[Any, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.position = {c.name: i for i, c in enumerate(self.columns)}
        self.key_at = [self.position[k] for k in self.primary_key] or list(range(len(self.columns)))
        self.export_as = [(c.name, c.kind, c.kind == "json") for c in self.columns]
        self.signature = (self.name, tuple(self.position))

    def column(self, name: str) -> ColumnPlan | None:
        at = self.position.get(name)
        return None if at is None else self.columns[at]

    @property
    def deletes_rows(self) -> bool:
        return any(c.strategy == "delete_row" for c in self.columns)


@dataclass
class Found:
    """The subject's rows per table (as tuples in the table's column order)."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def count(self) -> int:
        return sum(len(r) for r in self.rows.values())


_STATEMENTS: dict[tuple[Any, ...], str] = {}


def _statement(shape: tuple[Any, ...], build: Callable[[], str]) -> str:
    """The statement text for a shape, built once (the cache is bounded: cleared when full)."""
    sql = _STATEMENTS.get(shape)
    if sql is None:
        if len(_STATEMENTS) >= 10_000:
            _STATEMENTS.clear()
        sql = _STATEMENTS[shape] = build()
    return sql


# A lookup: the columns matched and the value tuples looked for (one value each for one column).
Lookup = tuple[tuple[str, ...], list[tuple[Any, ...]]]


class _Sql:
    """Statements written for the store's driver (SQLAlchemy's quoting, the driver's placeholder
    style) and run on the connection's DB-API cursor, inside the connection's transaction: the
    per-subject work is a handful of indexed lookups, so building and compiling expression
    trees would cost more than the database does. A statement's text is kept per table and
    shape (how many values, which columns set), so it is formatted once per worker. Only identifiers
    from the approved map are put in the text (quoted); every value is a bound parameter."""

    def __init__(self, conn: StoreConnection) -> None:
        self.cursor = conn.connection.cursor()
        self.quote = conn.dialect.identifier_preparer.quote
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self.dialect = conn.dialect.name

    def _run(self, sql: str, params: tuple[Any, ...]) -> Any:
        self.cursor.execute(sql, params)
        return self.cursor

    def _match(self, columns: tuple[str, ...], count: int) -> str:
        if len(columns) == 1:
            return f"{self.quote(columns[0])} IN ({', '.join([self.mark] * count)})"
        # A composite key: (a = ? AND b = ?) OR ..., which every dialect plans on its index.
        one = " AND ".join(f"{self.quote(c)} = {self.mark}" for c in columns)
        return " OR ".join([f"({one})"] * count)

    def select(self, plan: TablePlan, lookups: list[Lookup]) -> list[Any]:
        shape = (self.dialect, plan.signature)
        shape += tuple((columns, len(values)) for columns, values in lookups)

        def build() -> str:
            columns = ", ".join(self.quote(c.name) for c in plan.columns)
            where = " OR ".join(self._match(cols, len(values)) for cols, values in lookups)
            return f"SELECT {columns} FROM {self.quote(plan.name)} WHERE {where}"  # noqa: S608

        sql = _statement(shape, build)
        params = tuple(v for _, values in lookups for value in values for v in value)
        return self._run(sql, params).fetchall()

    def _where_key(self, plan: TablePlan) -> str:
        keys = plan.primary_key or [c.name for c in plan.columns]
        return " AND ".join(f"{self.quote(k)} = {self.mark}" for k in keys)

    def update(self, plan: TablePlan, row: tuple[Any, ...], values: dict[str, Any]) -> int:
        shape = (self.dialect, plan.signature, "update", tuple(values))

        def build() -> str:
            sets = ", ".join(f"{self.quote(name)} = {self.mark}" for name in values)
            where = self._where_key(plan)
            return f"UPDATE {self.quote(plan.name)} SET {sets} WHERE {where}"  # noqa: S608

        sql = _statement(shape, build)
        key = tuple([row[i] for i in plan.key_at])
        return self._run(sql, (*values.values(), *key)).rowcount or 0

    def delete(self, plan: TablePlan, row: tuple[Any, ...]) -> int:
        shape = (self.dialect, plan.signature, "delete")
        sql = _statement(
            shape,
            lambda: f"DELETE FROM {self.quote(plan.name)} WHERE {self._where_key(plan)}",  # noqa: S608
        )
        return self._run(sql, tuple([row[i] for i in plan.key_at])).rowcount or 0


def _lookup_values(identifiers: Iterable[dict[str, str]]) -> dict[str, list[str]]:
    values: dict[str, set[str]] = {}
    for identifier in identifiers:
        value = str(identifier.get("value", "")).strip()
        if not value:
            continue
        kind = identifier.get("kind", "")
        found = values.setdefault(kind, set())
        found.add(value)
        if kind == "email":
            found.add(value.lower())
    return {k: sorted(v) for k, v in values.items()}


def _add(found: Found, seen: dict[str, set[tuple[Any, ...]]], plan: TablePlan, rows: list) -> bool:
    """Keep the rows not found yet (by primary key, or all columns); True if any was new."""
    keys = seen.setdefault(plan.name, set())
    at = plan.key_at
    grew = False
    for row in rows:
        key = tuple([row[i] for i in at])
        if key not in keys:
            keys.add(key)
            found.rows.setdefault(plan.name, []).append(tuple(row))
            grew = True
    return grew


def _follow(sql: _Sql, plan: TablePlan, link: Link, parent: TablePlan, parent_rows: list) -> list:
    """Rows of `plan` whose foreign key `link` points at one of `parent_rows` (all its columns
    matched; a parent key with a NULL part points at nothing)."""
    at = [parent.position[r] for r in link.references]
    values = sorted(
        {k for k in (tuple([r[i] for i in at]) for r in parent_rows) if None not in k}, key=str
    )
    size = max(1, CHUNK // len(at))
    rows: list = []
    for start in range(0, len(values), size):
        rows += sql.select(plan, [(link.columns, values[start : start + size])])
    return rows


def rows_find(
    conn: StoreConnection, plans: list[TablePlan], identifiers: Iterable[dict[str, str]]
) -> Found:
    """Rows holding one of the identifiers in an identity-key column, then every row of an
    approved table whose foreign key (one column or several) points at a row already found,
    to a fixed point."""
    lookup = _lookup_values(identifiers)
    by_name = {p.name: p for p in plans}
    found = Found()
    seen: dict[str, set[tuple[Any, ...]]] = {}
    sql = _Sql(conn)
    for plan in plans:
        lookups: list[Lookup] = [
            ((c.name,), [(v,) for v in lookup[c.identity_kind]])
            for c in plan.columns
            if c.identity_kind and lookup.get(c.identity_kind)
        ]
        if lookups:
            _add(found, seen, plan, sql.select(plan, lookups))
    done: set[tuple[str, tuple[str, ...], str, int]] = set()
    changed = True
    while changed:
        changed = False
        for plan in plans:
            for link in plan.foreign_keys:
                parent = by_name.get(link.table)
                parent_rows = found.rows.get(link.table) if parent is not None else None
                if parent is None or not parent_rows:
                    continue
                marker = (plan.name, link.columns, link.table, len(parent_rows))
                if marker in done:
                    continue
                done.add(marker)
                rows = _follow(sql, plan, link, parent, parent_rows)
                changed = _add(found, seen, plan, rows) or changed
    return found


def _plain(value: Any, kind: str) -> Any:
    """`value` as JSON can hold it. A number JSON has no literal for (NaN, an infinity: a
    float column, an unconstrained numeric, or NaN in JSON text a Python app wrote) is its
    text, "NaN" or "Infinity": written as a number, data.json was no JSON a strict parser
    reads, and an infinite decimal raised."""
    if value is None:
        return None
    if kind == "json" and isinstance(value, (str, bytes)):
        try:
            return json.loads(value, parse_constant=str)
        except ValueError:
            return value if isinstance(value, str) else base64.b64encode(value).decode()
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else str(decimal.Decimal(value))
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return value


# Values of these exact types go to JSON as they are (checked by class: no call per cell); a
# float is checked (NaN and infinities have no JSON literal).
_AS_IS = frozenset({str, int, bool, type(None)})


def rows_where(found: Found, plans: list[TablePlan]) -> dict[str, dict[str, Any]]:
    """Where the subject's data sits, without it: per table the number of rows found and the
    columns mapped as personal (a category, a lookup key or a strategy)."""
    return {
        plan.name: {
            "rows": len(found.rows[plan.name]),
            "columns": [
                c.name
                for c in plan.columns
                if c.category or c.identity_kind or c.strategy != "keep"
            ],
        }
        for plan in plans
        if found.rows.get(plan.name)
    }


def rows_export(found: Found, plans: list[TablePlan]) -> dict[str, list[dict[str, Any]]]:
    """The found rows as JSON-ready dicts per table (dates ISO 8601, decimals exact, bytes
    base64, JSON columns parsed)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for plan in plans:
        rows = found.rows.get(plan.name)
        if rows:
            spec = plan.export_as
            out[plan.name] = [
                {
                    name: value if value.__class__ in _AS_IS and not parse else _plain(value, kind)
                    for (name, kind, parse), value in zip(spec, row, strict=True)
                }
                for row in rows
            ]
    return out


def keyed_hash(key: str, value: Any, max_length: int | None) -> str:
    digest = hmac.new(key.encode(), str(value).encode(), hashlib.sha256).hexdigest()
    size = 64 if max_length is None else max(8, min(64, max_length - len(HASH_PREFIX)))
    return HASH_PREFIX + digest[:size]


def masked(col: ColumnPlan, value: Any, key: str) -> Any:
    """The erased value of a column for a stored value (idempotent: erased stays erased)."""
    if col.strategy == "set_null":
        return None
    if col.strategy == "hash":
        if value is None or (isinstance(value, str) and value.startswith(HASH_PREFIX)):
            return value
        return keyed_hash(key, value, col.max_length)
    if col.kind == "text":
        if col.max_length is not None and col.max_length < len(TEXT_MASK):
            return "x" * col.max_length
        return TEXT_MASK
    return MASKS.get(col.kind)


def _same(old: Any, new: Any, kind: str) -> bool:
    if old is None or new is None:
        return old is new
    if kind == "json":
        old = json.loads(old) if isinstance(old, (str, bytes)) else old
        new = json.loads(new) if isinstance(new, str) else new
        return old == new
    if kind == "datetime" and isinstance(old, dt.datetime):
        return old.replace(tzinfo=None) == new
    if kind == "date" and isinstance(old, dt.datetime):
        return old.date() == new
    if kind == "bool":
        return bool(old) == bool(new)
    if isinstance(old, str) and isinstance(new, (dt.date, int, float)):
        return old == str(new) or old.startswith(str(new))  # SQLite keeps dates as text
    return bool(old == new)


def _order(plans: list[TablePlan]) -> list[TablePlan]:
    """Parents before children (a child has a foreign key to its parent)."""
    by_name = {p.name: p for p in plans}
    ordered: list[TablePlan] = []
    visiting: set[str] = set()

    def visit(plan: TablePlan) -> None:
        if plan.name in visiting:  # ordered already, or on the path (a cycle)
            return
        visiting.add(plan.name)
        for link in plan.foreign_keys:
            parent = by_name.get(link.table)
            if parent is not None and parent is not plan:
                visit(parent)
        ordered.append(plan)

    for plan in plans:
        visit(plan)
    return ordered


def rows_erase(
    conn: StoreConnection, plans: list[TablePlan], found: Found, key: str
) -> dict[str, Any]:
    """Apply each column's strategy to the found rows, in the caller's transaction: updates
    parents first, then deletes children first. A child whose parent row is deleted loses its
    link (NULL) or, where the link cannot be NULL, its row. Returns PII-free counts."""
    ordered = _order(plans)
    deleting = {p.name for p in ordered if p.deletes_rows and found.rows.get(p.name)}
    for plan in ordered:
        for link in plan.foreign_keys:
            if link.table in deleting and plan.name not in deleting and found.rows.get(plan.name):
                columns = [plan.column(c) for c in link.columns]
                if any(c is not None and not c.nullable for c in columns):
                    deleting.add(plan.name)
    counts: dict[str, Any] = {"updated": {}, "deleted": {}}
    sql = _Sql(conn)
    for plan in ordered:
        if plan.name in deleting or not found.rows.get(plan.name):
            continue
        unlink = {c for link in plan.foreign_keys if link.table in deleting for c in link.columns}
        changed = _update_rows(sql, plan, found.rows[plan.name], key, unlink)
        if changed:
            counts["updated"][plan.name] = changed
    for plan in reversed(ordered):
        if plan.name not in deleting:
            continue
        deleted = 0
        for row in found.rows[plan.name]:
            deleted += sql.delete(plan, row)
        if deleted:
            counts["deleted"][plan.name] = deleted
    return counts


def _update_rows(
    sql: _Sql, plan: TablePlan, rows: list[tuple[Any, ...]], key: str, unlink: set[str]
) -> int:
    targets = [
        (i, c)
        for i, c in enumerate(plan.columns)
        if c.strategy in ("set_null", "mask", "hash") or c.name in unlink
    ]
    changed = 0
    for row in rows:
        values: dict[str, Any] = {}
        for i, col in targets:
            new = None if col.name in unlink else masked(col, row[i], key)
            if not _same(row[i], new, col.kind):
                values[col.name] = new
        if values:
            changed += sql.update(plan, row, values)
    return changed
