"""The Segment spec as a built-in inbound format: `identify`, `track`, `page` and `alias`
calls (with `userId`, `anonymousId`, `traits`, `context`) mapped to one profiles record, the
shape `profiles.services.subject_upsert` takes from the API.

- `userId` is a `customer_id`; `anonymousId` (and an alias's `previousId`) a `device_id`, the
  visitor's identifier: a visitor's events land on a subject holding only that device id, and
  the `identify` or `alias` that names both joins them (deterministic matching merges them);
- `traits.email` / `traits.phone` (also under `context.traits`) are identifiers; other scalar
  traits are attributes (camelCase keys become snake_case), nested ones are dropped;
- `track` is an event named after `event`, `page` an event `page` (name, properties); the
  event's time is the call's `timestamp`, so a re-delivered call deduplicates.

Errors name fields, never quote values (they end up in the dead-letter list)."""

from __future__ import annotations

import re
from typing import Any

from activation.identities import id_text
from core.errors import DomainError
from core.parsers import text_is_blank

KINDS = ("identify", "track", "page", "alias")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_IDENTITY_TRAITS = {"email": "email", "phone": "phone"}


def _bad(message: str, field_name: str) -> DomainError:
    return DomainError(message, code="invalid_payload", fields={field_name: [message]})


def call_kind(payload: Any) -> str:
    if not isinstance(payload, dict):
        raise _bad("A Segment call is a JSON object.", "body")
    kind = payload.get("type")
    if kind not in KINDS:
        raise _bad(f"type must be one of {', '.join(KINDS)}.", "type")
    return str(kind)


def message_id(payload: dict[str, Any]) -> str:
    value = payload.get("messageId")
    if not isinstance(value, str) or text_is_blank(value) or len(value) > 200:
        raise _bad("messageId is required (a string of at most 200 characters).", "messageId")
    return value.strip()


def _snake(key: str) -> str:
    return _CAMEL.sub(r"_\1", key).lower()


def _traits(payload: dict[str, Any]) -> dict[str, Any]:
    context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    merged: dict[str, Any] = {}
    for source in (context.get("traits"), payload.get("traits")):
        if isinstance(source, dict):
            merged.update(source)
    return merged


def _identifiers(payload: dict[str, Any], traits: dict[str, Any]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for field_name, kind in (
        ("userId", "customer_id"),
        ("anonymousId", "device_id"),
        ("previousId", "device_id"),
    ):
        text = id_text(payload.get(field_name))
        if text is not None:
            item = {"kind": kind, "value": text}
            if item not in found:
                found.append(item)
    for trait, kind in _IDENTITY_TRAITS.items():
        value = traits.get(trait)
        if isinstance(value, str) and not text_is_blank(value):
            found.append({"kind": kind, "value": value})
    if not found:
        raise _bad("userId or anonymousId is required.", "userId")
    return found


def _attributes(traits: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for key, value in traits.items():
        if key in _IDENTITY_TRAITS or value is None or isinstance(value, (dict, list)):
            continue
        name = _snake(str(key))
        if name.replace("_", "").isalnum() and len(name) <= 64:
            attributes[name] = value
    return attributes


def _events(kind: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    properties = payload.get("properties") if isinstance(payload.get("properties"), dict) else {}
    when = payload.get("timestamp") if isinstance(payload.get("timestamp"), str) else None
    if kind == "track":
        name = payload.get("event")
        if not isinstance(name, str) or not name.strip():
            raise _bad("A track call needs an event name.", "event")
        event = {"name": name, "payload": properties}
    elif kind == "page":
        event = {"name": "page", "payload": {"name": payload.get("name"), **properties}}
    else:
        return []
    if when:
        event["occurred_at"] = when
    return [event]


def to_record(payload: Any, *, region: str) -> dict[str, Any]:
    """The profiles record of one Segment call (raises DomainError, PII-free, if malformed)."""
    kind = call_kind(payload)
    traits = (
        _traits(payload) if kind == "identify" else _traits({"context": payload.get("context")})
    )
    record: dict[str, Any] = {
        "region": region,
        "identifiers": _identifiers(payload, traits),
        "events": _events(kind, payload),
    }
    if kind == "identify":
        record["attributes"] = _attributes(traits)
    return record
