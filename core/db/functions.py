"""Database functions that give a column as the text Python would make of it, computed by the
database: a large read (an export of every event of a person) then skips building a Python
object per value only to format it again."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Func

SQL = tuple[str, tuple[Any, ...]]  # a compiled expression: its text and parameters


class IsoUtc(Func):
    """A datetime column as `datetime.isoformat()` writes the aware UTC value Django reads:
    `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, the fraction only when it is not zero."""

    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> SQL:
        # Django stores an aware datetime as its naive UTC `str()`: the same digits, a space.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(replace({sql}, ' ', 'T') || '+00:00')", tuple(params)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> SQL:
        sql, params = compiler.compile(self.source_expressions[0])
        at = f"(({sql}) AT TIME ZONE 'UTC')"
        text = (
            f"(to_char({at}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
            f"CASE to_char({at}, 'US') WHEN '000000' THEN '' ELSE '.' || to_char({at}, 'US') END"
            " || '+00:00')"
        )
        return text, (*params, *params, *params)


class UuidText(Func):
    """A UUID column as `str(uuid)` writes it: 36 characters, lower case, with hyphens."""

    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> SQL:
        # Django stores a UUID as its 32 hexadecimal digits (`uuid.hex`).
        sql, params = compiler.compile(self.source_expressions[0])
        parts = " || '-' || ".join(
            f"substr({sql}, {start}, {length})"
            for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))
        )
        return f"({parts})", tuple(params) * 5

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> SQL:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql})::text)", tuple(params)
