"""Strict serializer fields: a request is accepted only when its JSON types match the schema.

DRF's own fields coerce: `CharField` turns `0` into `"0"`, `UUIDField` reads `5` as a UUID,
`IntegerField` reads `"5"` as 5 and `BooleanField` reads `"yes"` as true. The OpenAPI schema
says "string", "integer", "boolean", so every request serializer of the API uses these instead:
anything else is 400 `invalid` naming the field. Query parameters are text by nature; read
them through `query_data`, so an empty value is validated rather than ignored.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import MinLengthValidator, RegexValidator
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.fields import empty

NOT_TEXT = "Must be text (a JSON string)."
NON_BLANK = r"\S"  # the schema's pattern for text that may not be blank


class StrictTextMixin:
    """Refuses a JSON value that is not a string (number, boolean, list, object) before the
    field's own parsing, and counts `max_length` on the text as sent (before trimming), as the
    schema's maxLength does. Text that may not be blank says so in the schema: minLength 1 and
    a non-space character (DRF trims, so "  " is blank)."""

    default_error_messages = {"not_text": NOT_TEXT}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not getattr(self, "allow_blank", True):
            if getattr(self, "min_length", 1) is None:
                self.min_length = 1
                self.validators.append(MinLengthValidator(1))  # type: ignore[attr-defined]
            if getattr(self, "trim_whitespace", False):
                self.validators.append(RegexValidator(NON_BLANK))  # type: ignore[attr-defined]

    def run_validation(self, data: Any = empty) -> Any:
        if data is not empty and data is not None:
            if not isinstance(data, str):
                self.fail("not_text")  # type: ignore[attr-defined]
            max_length = getattr(self, "max_length", None)
            if max_length is not None and len(data) > max_length:
                self.fail("max_length", max_length=max_length)  # type: ignore[attr-defined]
        return super().run_validation(data)  # type: ignore[misc]


class StrictCharField(StrictTextMixin, serializers.CharField):  # type: ignore[misc]  # the stubs type the mixin's class attributes narrower
    pass


class StrictEmailField(StrictTextMixin, serializers.EmailField):  # type: ignore[misc]  # the stubs type the mixin's class attributes narrower
    pass


class StrictSlugField(StrictTextMixin, serializers.SlugField):  # type: ignore[misc]  # the stubs type the mixin's class attributes narrower
    pass


class StrictRegexField(StrictTextMixin, serializers.RegexField):  # type: ignore[misc]  # the stubs type the mixin's class attributes narrower
    pass


class StrictUUIDField(StrictTextMixin, serializers.UUIDField):  # type: ignore[misc]  # the stubs type the mixin's class attributes narrower
    pass


class StrictChoiceField(StrictTextMixin, serializers.ChoiceField):  # type: ignore[misc]  # the stubs type the mixin's class attributes narrower
    pass


class StrictIntegerField(serializers.IntegerField):
    """A JSON number without a fraction; text ("5") and booleans are refused."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only; "true", "yes", 1 are refused."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def query_data(params: QueryDict) -> dict[str, str]:
    """Query parameters for a serializer, as plain values: DRF reads a `QueryDict` as a form
    and takes `?subject=` for an absent optional field; given plainly, an empty value is
    validated like any other (400 when the schema requires a UUID or non-empty text)."""
    return {key: str(value) for key, value in params.dict().items()}
