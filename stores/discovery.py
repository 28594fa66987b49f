"""Discovery: introspect a store (tables, columns, types, keys) and classify each column into a
data category from its name and from values sampled in memory.

Sampled values live only inside `classify_values` while it counts matches: nothing here
returns, stores or logs a value, only counts and a confidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SAMPLE_ROWS = 200


@dataclass
class ColumnInfo:
    name: str
    sql_type: str
    kind: str
    nullable: bool
    unique: bool = False
    max_length: int | None = None
    category: str = ""
    identity_kind: str = ""
    confidence: float = 0.0
    sampled: int = 0
    matched: int = 0
    reason: str = ""
    strategy: str = "keep"


@dataclass
class TableInfo:
    name: str
    primary_key: list[str]
    foreign_keys: list[dict[str, Any]]
    columns: list[ColumnInfo] = field(default_factory=list)


# (name pattern, category, identity kind); first match wins.
NAME_RULES: list[tuple[str, str, str]] = [
    (r"(^|_)e?_?mail(_?address)?$", "contact", "email"),
    (r"(^|_)(phone|mobile|telephone|tel|msisdn)(_?number)?$", "contact", "phone"),
    (
        r"(^|_)customer_?(id|no|number|ref)$|^(loyalty|member)_?(id|no|number)$",
        "identity",
        "customer_id",
    ),
    (r"(ssn|passport|national_?id|tax_?id|id_?card|driver)", "identity", ""),
    (
        r"(^|_)(first|last|given|family|full|middle|maiden|nick|user)_?name$|^surname$",
        "identity",
        "",
    ),
    (r"(birth|dob|gender|sex$|nationality|marital|age$|photo|avatar)", "descriptive", ""),
    (r"(street|address|city|zip|postcode|postal|country|region|state$)", "contact", ""),
    (
        r"(iban|bic|card|account_?(no|number)|salary|income|credit|amount|price|total|balance)",
        "financial",
        "",
    ),
    (
        r"(health|diagnos|medical|religio|ethnic|politic|union|sexual|biometric|genetic|disab)",
        "sensitive",
        "",
    ),
    (r"(prefer|interest|loyalty|points$|score$)", "behavioral", ""),
    (r"(note|comment|message|body)$", "descriptive", ""),
    (
        r"(^ip$|ip_?addr|user_?agent|device|last_?login|visit|click|page|session|referr|viewed|search|cookie)",
        "behavioral",
        "",
    ),
]

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{6,18}[0-9]$")
IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9 ]{11,30}$")
IPV4 = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$")
CARD = re.compile(r"^[0-9][0-9 -]{11,21}[0-9]$")


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


# (label, test, category, identity kind), checked in order: a value counts for the first.
VALUE_RULES: list[tuple[str, Any, str, str]] = [
    ("email", EMAIL.match, "contact", "email"),
    ("iban", lambda v: IBAN.match(v.replace(" ", "")), "financial", ""),
    ("card", lambda v: CARD.match(v) and _luhn(v), "financial", ""),
    ("ip", IPV4.match, "behavioral", ""),
    ("phone", PHONE.match, "contact", "phone"),
]


def column_kind(sql_type: Any) -> str:
    if isinstance(sql_type, sa.Boolean):
        return "bool"
    if isinstance(sql_type, (sa.Integer, sa.Numeric, sa.Float)):
        return "number"
    if isinstance(sql_type, sa.DateTime):
        return "datetime"
    if isinstance(sql_type, sa.Date):
        return "date"
    if isinstance(sql_type, sa.JSON):
        return "json"
    if isinstance(sql_type, (sa.String, sa.Text, sa.Enum)):
        return "text"
    if isinstance(sql_type, sa.LargeBinary):
        return "binary"
    return "other"


def introspect(conn: Connection, *, prefix: str = "") -> list[TableInfo]:
    """Tables (whose name starts with `prefix`), columns, types, primary and foreign keys."""
    inspector = sa.inspect(conn)
    tables = []
    for name in sorted(inspector.get_table_names()):
        if not name.startswith(prefix):
            continue
        pk = list(inspector.get_pk_constraint(name).get("constrained_columns") or [])
        fks = [
            {
                "columns": list(fk["constrained_columns"]),
                "table": fk["referred_table"],
                "references": list(fk["referred_columns"]),
            }
            for fk in inspector.get_foreign_keys(name)
            if fk["constrained_columns"]
            and len(fk["constrained_columns"]) == len(fk["referred_columns"])
        ]
        unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)} | {
            tuple(i["column_names"]) for i in inspector.get_indexes(name) if i.get("unique")
        }
        columns = []
        for col in inspector.get_columns(name):
            type_ = col["type"]
            columns.append(
                ColumnInfo(
                    name=col["name"],
                    sql_type=str(type_.compile(dialect=conn.dialect))[:100],
                    kind=column_kind(type_),
                    nullable=bool(col.get("nullable", True)) and [col["name"]] != pk,
                    unique=(col["name"],) in unique or pk == [col["name"]],
                    max_length=getattr(type_, "length", None),
                )
            )
        tables.append(TableInfo(name=name, primary_key=pk, foreign_keys=fks, columns=columns))
    return tables


PERSON_TABLES = re.compile(
    r"(customer|user|person|people|member|contact|client|employee|patient)", re.I
)


def classify_name(table: str, column: str) -> tuple[str, str]:
    lowered = column.lower()
    if lowered in ("name", "display_name") and PERSON_TABLES.search(table):
        return "identity", ""
    for pattern, category, identity_kind in NAME_RULES:
        if re.search(pattern, lowered):
            return category, identity_kind
    return "", ""


def classify_values(values: Iterable[Any]) -> tuple[int, int, str, str, bool]:
    """Count sampled values matching a personal-data pattern: (sampled, matched, category,
    identity kind, looks like JSON). Values are only looked at here, never returned."""
    sampled = 0
    hits: dict[str, int] = {}
    json_like = 0
    for value in values:
        if value is None:
            continue
        sampled += 1
        if isinstance(value, (dict, list)):
            json_like += 1
            continue
        text = value if isinstance(value, str) else str(value)
        text = text.strip()
        if text[:1] in "{[":
            try:
                json.loads(text)
                json_like += 1
                continue
            except ValueError:
                pass
        for label, test, _, _ in VALUE_RULES:
            if test(text):
                hits[label] = hits.get(label, 0) + 1
                break
    if not hits:
        return sampled, 0, "", "", bool(sampled) and json_like == sampled
    label = max(hits, key=hits.__getitem__)
    rule = next(r for r in VALUE_RULES if r[0] == label)
    return sampled, hits[label], rule[2], rule[3], False


def sample_and_classify(conn: Connection, table: TableInfo) -> None:
    """Fill each column's category, identity kind and confidence from its name and a sample
    of its values read into memory (then dropped)."""
    names = [c.name for c in table.columns]
    t = sa.table(table.name, *[sa.column(n) for n in names])
    rows = conn.execute(sa.select(t).limit(SAMPLE_ROWS)).all()
    links = {c for fk in table.foreign_keys for c in fk["columns"]} | set(table.primary_key)
    for index, col in enumerate(table.columns):
        if col.name in links and not (col.kind == "text" and col.unique):
            continue  # a key links rows; the row it points at holds the personal data
        name_category, name_kind = classify_name(table.name, col.name)
        if col.kind in ("text", "json", "other"):
            sampled, matched, value_category, value_kind, json_like = classify_values(
                row[index] for row in rows
            )
        else:
            sampled, matched, value_category, value_kind, json_like = (0, 0, "", "", False)
        if json_like and col.kind == "text":
            col.kind = "json"
        col.sampled, col.matched = sampled, matched
        share = matched / sampled if sampled else 0.0
        if name_category and value_category:
            col.category = value_category if share >= 0.5 else name_category
            col.identity_kind = value_kind if share >= 0.5 else name_kind
            col.confidence, col.reason = round(max(0.7, share), 2), "name and values"
        elif value_category and share >= 0.5:
            col.category, col.identity_kind = value_category, value_kind
            col.confidence, col.reason = round(share * 0.9, 2), "values"
        elif name_category:
            col.category, col.identity_kind = name_category, name_kind
            col.confidence, col.reason = 0.6, "name"
        if col.category and col.name in table.primary_key and not col.identity_kind:
            col.category = ""  # a surrogate key is not itself personal
            col.confidence, col.reason = 0.0, ""
    rows.clear()  # the sample goes no further than this function


DELETE_ROW_TABLES = re.compile(r"(event|log|session|view|click|visit|history|activity)", re.I)


def propose_strategies(tables: list[TableInfo]) -> None:
    """An erasure strategy per column: keyed hash for unique text and lookup keys (so rows stay
    distinct and joins hold), NULL where allowed, else a mask by type; behavioural tables
    (events, logs, sessions) reached through a foreign key lose their rows."""
    for table in tables:
        personal = [c for c in table.columns if c.category]
        linked = bool(table.foreign_keys)
        if personal and linked and DELETE_ROW_TABLES.search(table.name):
            for col in personal:
                col.strategy = "delete_row"
            continue
        for col in personal:
            col.strategy = column_strategy(col)


def column_strategy(col: ColumnInfo) -> str:
    if col.kind == "text" and (col.unique or col.identity_kind):
        return "hash"
    if col.nullable:
        return "set_null"
    if col.kind in ("text", "number", "date", "datetime", "json", "bool"):
        return "mask"
    return "delete_row"
