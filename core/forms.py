"""Form fields for pages (the admin): hostile input is an error on the field, never a 500.

Django's `forms.JSONField` hands the text to `json.loads`: nesting of a few thousand levels is a
RecursionError (a 500), and `NaN` or an escaped NUL (`"\\u0000"`) pass, though PostgreSQL cannot
store them in a JSON column. Here the text goes through the API's parser rules first
(core.parsers.json_loads_checked), and what they refuse is an error on the field.

Django's `forms.ModelMultipleChoiceField` filters the chosen ids as posted: a number beyond the
id column failed the query (OverflowError on SQLite). Here it is an invalid choice.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import connections
from django.forms.fields import InvalidJSONInput
from rest_framework.exceptions import ParseError

from core.errors import DomainError
from core.parsers import json_loads_checked


class CheckedJSONField(forms.JSONField):
    """`forms.JSONField` under the API's JSON rules (depth, text, no NaN or Infinity)."""

    def _check(self, value: Any) -> None:
        if self.disabled or not isinstance(value, str) or value in self.empty_values:
            return
        try:
            json_loads_checked(value.encode("utf-8", "surrogatepass"))
        except ParseError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        except DomainError as exc:
            raise ValidationError(exc.message, code=exc.code) from exc

    def to_python(self, value: Any) -> Any:
        self._check(value)
        return super().to_python(value)

    def bound_data(self, data: Any, initial: Any) -> Any:
        try:
            self._check(data)
        except ValidationError:
            return InvalidJSONInput(data)  # shown back as typed, as Django shows invalid JSON
        return super().bound_data(data, initial)


class CheckedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """`forms.ModelMultipleChoiceField` where a whole number its id column cannot hold is an
    invalid choice, as an id that names no row is."""

    def _check_values(self, value: Any) -> Any:
        key = self.to_field_name or "pk"
        queryset = self.queryset
        assert queryset is not None  # set by the model admin or the form before validation
        field = queryset.model._meta.get_field(key) if key != "pk" else queryset.model._meta.pk
        while field is not None and field.is_relation:  # a one-to-one primary key
            field = field.target_field
        ranges = connections[queryset.db].ops.integer_field_ranges
        limits = ranges.get(field.get_internal_type()) if field is not None else None
        if limits is not None and isinstance(value, list | tuple):
            for pk in value:
                try:
                    number = field.to_python(pk)
                except (ValidationError, TypeError):
                    continue  # not a number: Django's own check names it
                if isinstance(number, int) and not limits[0] <= number <= limits[1]:
                    raise ValidationError(
                        self.error_messages["invalid_choice"],
                        code="invalid_choice",
                        params={"value": pk},
                    )
        return super()._check_values(value)  # type: ignore[misc]  # private in the stubs
