"""A source call's ids (user id, anonymous id, message id) as text, for both inbound formats."""

from __future__ import annotations

from typing import Any

from core.parsers import text_is_blank


def id_text(value: Any) -> str | None:
    """`value` as an id: a string, or an integer as some sources send ids, holding a visible
    character; None for anything else. A boolean is no id (`"userId": true` from every visitor
    would make them one person, and `true` as a message id would take every later call for a
    replay), nor is a zero-width space."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    return None if text_is_blank(text) else text
