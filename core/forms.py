"""Form fields for pages (the admin): what the API refuses in a JSON body, a form refuses too.

Django's `forms.JSONField` hands the text to `json.loads`: nesting of a few thousand levels is a
RecursionError (a 500), and `NaN` or an escaped NUL (`"\\u0000"`) pass, though PostgreSQL cannot
store them in a JSON column. Here the text goes through the API's parser rules first
(core.parsers.json_loads_checked), and what they refuse is an error on the field.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
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
