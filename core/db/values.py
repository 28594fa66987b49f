"""Field values prepared for hand-written SQL as `Field.get_db_prep_save` prepares them, without
the call where it would return the value unchanged.

A hot insert (a banner's ledger records and projection rows: about 50 values a write) spent
more on `get_db_prep_save` than on the rest of building its rows: each call goes through the
field's `get_prep_value` and `to_python` only to hand back the str, bool or int it was given.
`db_values` passes such a value through as it is (a str for a plain text field, a bool for a
boolean field, an int for an integer field or a foreign key to one, or None) and prepares
every other value by the field itself, exactly as before (a UUID, a time, a subclass's
field, a value of another type)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

_TEXT = frozenset({models.CharField, models.TextField})
_INTEGER = frozenset(
    {
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.AutoField,
        models.BigAutoField,
    }
)
_NONE = type(None)


def _unchanged_types(field: models.Field) -> frozenset[type]:
    """The value types `field.get_db_prep_save` returns unchanged on every database (exact
    field classes only: a subclass may prepare its values itself)."""
    kind = type(field)
    if kind is models.ForeignKey:
        return _unchanged_types(field.target_field)  # type: ignore[attr-defined]
    if kind in _TEXT:
        return frozenset({str, _NONE})
    if kind is models.BooleanField:
        return frozenset({bool, _NONE})
    if kind in _INTEGER:
        return frozenset({int, _NONE})
    return frozenset()


@functools.cache
def _plan(fields: tuple[models.Field, ...]) -> tuple[frozenset[type], ...]:
    return tuple(_unchanged_types(field) for field in fields)


def db_values(
    fields: Sequence[models.Field], values: Sequence[Any], connection: BaseDatabaseWrapper
) -> list[Any]:
    """`[field.get_db_prep_save(value, connection) ...]` for `fields` and their `values`."""
    return [
        value if type(value) in unchanged else field.get_db_prep_save(value, connection)
        for field, unchanged, value in zip(fields, _plan(tuple(fields)), values, strict=True)
    ]
