"""The API's one JSON parser: hostile bodies become 4xx errors before anything recurses.

Every JSON endpoint shares the same rules, so they all agree on what they refuse:
- a body over the endpoint's limit is 413 `payload_too_large` (DATA_UPLOAD_MAX_MEMORY_SIZE,
  or the setting a view names in `body_limit_setting`), even without a Content-Length;
- nesting deeper than CUSTODIA_JSON_MAX_DEPTH is 400 `json_too_deep`, checked on the text
  before `json.loads` could reach Python's recursion limit;
- bytes that are not UTF-8, a NUL character or a lone surrogate (`"\\ud800"`) anywhere in a
  key or a value is 400 `invalid_text`: no field may store them, so no endpoint accepts them.
"""

from __future__ import annotations

import json
import re
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.errors import DomainError, InvalidTextError, PayloadTooLargeError

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_FORBIDDEN_TEXT = re.compile("[\x00\ud800-\udfff]")
INVALID_TEXT_MESSAGE = "Text must be valid Unicode without NUL characters."


def body_limit(view: Any) -> int:
    """The body size limit in bytes of a view (or view class): the setting it names in
    `body_limit_setting`, else DATA_UPLOAD_MAX_MEMORY_SIZE."""
    name = getattr(view, "body_limit_setting", "DATA_UPLOAD_MAX_MEMORY_SIZE")
    return int(getattr(settings, name))


def text_is_clean(value: str) -> bool:
    """False for text holding a NUL character or a lone surrogate."""
    return _FORBIDDEN_TEXT.search(value) is None


def text_is_blank(value: str) -> bool:
    """True for text with no visible character: empty, or only spaces, control characters and
    invisible format characters (a zero-width space, a byte-order mark), which `str.strip`
    keeps. Such text names nothing: as an identifier it would make everyone who sends it one
    person."""
    return not any(ch.isprintable() and not ch.isspace() for ch in value)


def json_depth_exceeds(text: str, limit: int) -> bool:
    """True when arrays and objects nest deeper than `limit` (brackets inside strings don't
    count). Linear in the text and iterative, so it is safe on any input."""
    if text.count("[") + text.count("{") <= limit:
        return False  # fewer opening brackets than the limit, even counting those in strings
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _all_text_clean(data: Any) -> bool:
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not text_is_clean(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def json_loads_checked(raw: bytes, *, encoding: str = "utf-8") -> Any:
    """Decode and parse a JSON document under the rules of this module (except the size)."""
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InvalidTextError(INVALID_TEXT_MESSAGE) from exc
    if "\x00" in text:
        raise InvalidTextError(INVALID_TEXT_MESSAGE)
    max_depth = settings.CUSTODIA_JSON_MAX_DEPTH
    if json_depth_exceeds(text, max_depth):
        raise DomainError(
            f"JSON nested deeper than {max_depth} levels.", code="json_too_deep", status=400
        )
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from exc
    if not _all_text_clean(data):
        raise InvalidTextError(INVALID_TEXT_MESSAGE)
    return data


class CheckedJSONParser(JSONParser):
    """DRF_PARSER for application/json: size, depth and text checked before use."""

    def parse(
        self, stream: IO[bytes], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        parser_context = parser_context or {}
        limit = body_limit(parser_context.get("view"))
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLargeError("The request body is too large.")
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        return json_loads_checked(raw, encoding=encoding)


class CheckedPlainTextJSONParser(CheckedJSONParser):
    """JSON sent as text/plain, with the same checks. A cross-origin fetch whose body is
    text/plain is a "simple" request: no CORS preflight round trip before it (the public
    banner's config call, which carries the visitor id in its body rather than its URL)."""

    media_type = "text/plain"
