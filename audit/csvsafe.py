"""CSV cells a spreadsheet will not run: every CSV the hub writes passes its cells through here.

A cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some spreadsheets
skip before such a sign) is read as a formula: `=HYPERLINK(...)` in an exported audit reason
would run on the officer's machine. Such text gets a leading single quote (OWASP's advice), which
spreadsheets show as text. Numbers are left alone: they are not formulas."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """`value` as it may go into a CSV cell: text that a spreadsheet would run is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(value) for value in values]
