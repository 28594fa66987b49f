"""The hash chain: canonical content of an event and its SHA-256 link to the previous one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64

CHAINED_FIELDS = (
    "sequence",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "subject_id",
    "region",
    "fields",
    "reason",
    "request_id",
    "ip_truncated",
)


def canonical_content(values: dict[str, Any]) -> bytes:
    """Stable bytes for the chained fields: sorted keys, ISO times, strings for ids."""
    content = {}
    for name in CHAINED_FIELDS:
        value = values[name]
        if name == "occurred_at":
            value = value.isoformat(timespec="microseconds")
        elif name == "subject_id":
            value = str(value) if value else ""
        content[name] = value
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def link_hash(prev_hash: str, values: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_content(values)).hexdigest()
