"""The custom inbound format: a mapping, edited by an officer, from paths in a source's own
JSON payload to the profiles record `profiles.services.subject_upsert` takes (the same record
the Segment format builds). A mapping is a JSON object:

    {
      "message_id": "id",                         # required: the idempotency key of a call
      "timestamp": "created_at",                  # optional: the events' time
      "identifiers": [{"path": "customer.email", "kind": "email"}],
      "attributes": [{"path": "customer.first_name", "key": "first_name",
                      "category": "identity"}],
      "events": [{"name": "order_placed",         # or "name_path": "type"
                  "properties": {"total": "order.total"}}]
    }

A path is dot-separated keys, a number indexes a list (`items.0.sku`). Optional paths absent
from a payload are skipped; a call needs its message id and at least one identifier. Errors
name paths and mapping entries, never payload values (they end up in the dead-letter list)."""

from __future__ import annotations

import re
from typing import Any

from access.masking import mask_value
from activation.identities import id_text
from core.errors import DomainError
from profiles.models import DataCategory, Identifier

PATH = re.compile(r"^[A-Za-z0-9_$@\-]+(\.[A-Za-z0-9_$@\-]+)*$")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
KIND = "custom"
_SECTIONS = {"message_id", "timestamp", "identifiers", "attributes", "events"}
_MISSING = object()


def _bad(message: str, field_name: str = "mapping") -> DomainError:
    return DomainError(message, code="invalid_payload", fields={field_name: [message]})


def _path_errors(where: str, path: Any) -> list[str]:
    if not isinstance(path, str) or not PATH.match(path):
        return [f"{where}: a path is keys separated by dots (e.g. customer.email)."]
    return []


def _entries(mapping: dict[str, Any], section: str) -> tuple[list[Any], list[str]]:
    entries = mapping.get(section, [])
    if not isinstance(entries, list):
        return [], [f"{section}: a list of entries."]
    return entries, []


def _identifier_errors(mapping: dict[str, Any]) -> list[str]:
    entries, errors = _entries(mapping, "identifiers")
    if not entries and not errors:
        errors.append("identifiers: at least one entry (path and kind).")
    kinds = ", ".join(Identifier.Kind.values)
    for n, entry in enumerate(entries):
        where = f"identifiers[{n}]"
        if not isinstance(entry, dict):
            errors.append(f"{where}: an object with path and kind.")
            continue
        errors += _path_errors(f"{where}.path", entry.get("path"))
        if entry.get("kind") not in Identifier.Kind.values:
            errors.append(f"{where}.kind: one of {kinds}.")
    return errors


def _attribute_errors(mapping: dict[str, Any]) -> list[str]:
    entries, errors = _entries(mapping, "attributes")
    categories = ", ".join(DataCategory.values)
    for n, entry in enumerate(entries):
        where = f"attributes[{n}]"
        if not isinstance(entry, dict):
            errors.append(f"{where}: an object with path, key and category.")
            continue
        errors += _path_errors(f"{where}.path", entry.get("path"))
        if not isinstance(entry.get("key"), str) or not KEY.match(entry["key"]):
            errors.append(f"{where}.key: a snake_case key (letters, digits, _; 64 at most).")
        if entry.get("category") not in DataCategory.values:
            errors.append(f"{where}.category: one of {categories}.")
    return errors


def _event_errors(mapping: dict[str, Any]) -> list[str]:
    entries, errors = _entries(mapping, "events")
    for n, entry in enumerate(entries):
        where = f"events[{n}]"
        if not isinstance(entry, dict):
            errors.append(f"{where}: an object with name (or name_path) and properties.")
            continue
        name, name_path = entry.get("name"), entry.get("name_path")
        if (name is None) == (name_path is None):
            errors.append(f"{where}: either name or name_path.")
        elif name is not None and (not isinstance(name, str) or not name.strip()):
            errors.append(f"{where}.name: a non-empty event name.")
        elif name_path is not None:
            errors += _path_errors(f"{where}.name_path", name_path)
        properties = entry.get("properties", {})
        if not isinstance(properties, dict):
            errors.append(f"{where}.properties: an object of property name to path.")
            continue
        for key, path in properties.items():
            errors += _path_errors(f"{where}.properties.{key}", path)
    return errors


def mapping_errors(mapping: Any) -> list[str]:
    """Every problem of a mapping, one line each, naming the entry (empty: it is valid)."""
    if not isinstance(mapping, dict):
        return ["The mapping is a JSON object."]
    errors = [f"{key}: not a mapping section." for key in sorted(set(mapping) - _SECTIONS)]
    errors += _path_errors("message_id", mapping.get("message_id"))
    if mapping.get("timestamp") is not None:
        errors += _path_errors("timestamp", mapping["timestamp"])
    return (
        errors + _identifier_errors(mapping) + _attribute_errors(mapping) + _event_errors(mapping)
    )


def resolve(payload: Any, path: str) -> Any:
    """The value at `path` in `payload`, or _MISSING."""
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _scalar(payload: Any, path: str, where: str) -> Any:
    """The scalar at `path` (None when absent or null); an object or list there is an error."""
    value = resolve(payload, path)
    if value is _MISSING or value is None:
        return None
    if isinstance(value, (dict, list)):
        raise _bad(f"{where}: the path {path} holds an object or list, not a value.", where)
    return value


def message_id(mapping: dict[str, Any], payload: Any) -> str:
    if not isinstance(payload, dict):
        raise _bad("A call is a JSON object.", "body")
    path = mapping.get("message_id")
    value = _scalar(payload, path, "message_id") if isinstance(path, str) else None
    text = (id_text(value) or "").strip()
    if not text or len(text) > 200:
        raise _bad(
            f"The message id (path {path}) is required: a string of at most 200 characters.",
            "message_id",
        )
    return text


def _identifiers(mapping: dict[str, Any], payload: Any) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for n, entry in enumerate(mapping.get("identifiers", [])):
        value = _scalar(payload, entry["path"], f"identifiers[{n}]")
        text = id_text(value)
        if text is not None:
            item = {"kind": entry["kind"], "value": text}
            if item not in found:
                found.append(item)
    if not found:
        paths = ", ".join(e["path"] for e in mapping.get("identifiers", []))
        raise _bad(f"None of the identifier paths ({paths}) holds a value.", "identifiers")
    return found


def _attributes(mapping: dict[str, Any], payload: Any) -> list[dict[str, Any]]:
    out = []
    for n, entry in enumerate(mapping.get("attributes", [])):
        value = _scalar(payload, entry["path"], f"attributes[{n}]")
        if value is not None:
            out.append({"key": entry["key"], "value": value, "category": entry["category"]})
    return out


def _events(mapping: dict[str, Any], payload: Any) -> list[dict[str, Any]]:
    when = _scalar(payload, mapping["timestamp"], "timestamp") if mapping.get("timestamp") else None
    events = []
    for n, entry in enumerate(mapping.get("events", [])):
        name = entry.get("name")
        if name is None:
            name = _scalar(payload, entry["name_path"], f"events[{n}].name_path")
            if name is None or not str(name).strip():
                continue  # this payload carries no such event
        properties = {}
        for key, path in entry.get("properties", {}).items():
            value = resolve(payload, path)
            if value is not _MISSING:
                properties[key] = value
        event: dict[str, Any] = {"name": str(name), "payload": properties}
        if isinstance(when, str):
            event["occurred_at"] = when
        events.append(event)
    return events


def to_record(mapping: Any, payload: Any, *, region: str) -> dict[str, Any]:
    """The profiles record one call maps to (raises DomainError naming paths, never values)."""
    errors = mapping_errors(mapping)
    if errors:
        raise _bad(f"The source's mapping is invalid: {errors[0]}")
    if not isinstance(payload, dict):
        raise _bad("A call is a JSON object.", "body")
    return {
        "region": region,
        "identifiers": _identifiers(mapping, payload),
        "attributes": _attributes(mapping, payload),
        "events": _events(mapping, payload),
    }


def _missing_paths(mapping: dict[str, Any], payload: Any) -> list[str]:
    paths = [mapping.get("timestamp")]
    paths += [e.get("path") for key in ("identifiers", "attributes") for e in mapping.get(key, [])]
    for entry in mapping.get("events", []):
        paths += [entry.get("name_path"), *entry.get("properties", {}).values()]
    return [p for p in paths if isinstance(p, str) and resolve(payload, p) is _MISSING]


def _masked(value: Any, kind: str = "text") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return mask_value(kind, value)


def preview(mapping: Any, payload: Any, *, region: str) -> dict[str, Any]:
    """What `mapping` makes of a sample payload, without writing anything: the identifiers,
    attributes and events (values masked, e-mail and phone by their shape), the paths absent
    from the sample, and the errors (bad mapping entries, bad paths, what the upsert would
    refuse). Every value shown is masked: the sample may be a real person's data."""
    from profiles.services.ingest import parse_record

    out: dict[str, Any] = {"errors": mapping_errors(mapping), "missing_paths": []}
    if out["errors"]:
        return out
    if not isinstance(payload, dict):
        out["errors"] = ["The sample payload is a JSON object."]
        return out
    out["missing_paths"] = _missing_paths(mapping, payload)
    try:
        out["message_id"] = message_id(mapping, payload)
        record = to_record(mapping, payload, region=region)
        parse_record(record, default_region=region)
    except DomainError as exc:
        out["errors"] = [str(exc)]
        return out
    out["identifiers"] = [
        {"kind": i["kind"], "value": mask_value(i["kind"], i["value"])}
        for i in record["identifiers"]
    ]
    out["attributes"] = [{**a, "value": _masked(a["value"])} for a in record["attributes"]]
    out["events"] = [{**e, "payload": _masked(e["payload"])} for e in record["events"]]
    return out
