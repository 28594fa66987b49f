"""CSV a spreadsheet will not run: every CSV the hub writes is written through `csv_writer`
(a test holds that no other module makes a `csv.writer`).

A cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some spreadsheets
skip before such a sign) is read as a formula: `=HYPERLINK(...)` in an exported audit reason
would run on the officer's machine. Such text gets a leading single quote (OWASP's advice), which
spreadsheets show as text. Header cells too: column names can come from people (a connected
store's columns, attribute keys). Numbers are left alone: they are not formulas."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """`value` as it may go into a CSV cell: text that a spreadsheet would run is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    # `csv_cell` inlined: a row of an export of 100,000 events calls this 100,000 times.
    return [
        "'" + value if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) else value
        for value in values
    ]


class SafeCsvWriter:
    """`csv.writer` whose every row, the header included, passes through `csv_row`."""

    def __init__(self, out: Any) -> None:
        self._writer = csv.writer(out)

    def writerow(self, values: Iterable[Any]) -> Any:
        return self._writer.writerow(csv_row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        self._writer.writerows(map(csv_row, rows))  # the loop in C, as csv.writer's own


def csv_writer(out: Any) -> SafeCsvWriter:
    """The CSV writer of the hub: as `csv.writer(out)`, with every cell spreadsheet-safe."""
    return SafeCsvWriter(out)
