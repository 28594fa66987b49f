"""A source endpoint's inbound format: the built-in Segment spec or the officer's custom
mapping, read at processing time (so a mapping fixed after a dead letter applies on replay)."""

from __future__ import annotations

from typing import Any

from activation import mapping, segment
from activation.models import SourceEndpoint


def call_kind_and_id(endpoint: SourceEndpoint, payload: Any) -> tuple[str, str]:
    """The call's kind and message id (idempotency key), checked at intake (400 if absent)."""
    if endpoint.format == SourceEndpoint.Format.CUSTOM:
        return mapping.KIND, mapping.message_id(endpoint.mapping, payload)
    kind = segment.call_kind(payload)
    return kind, segment.message_id(payload)


def to_record(endpoint: SourceEndpoint, payload: Any) -> dict[str, Any]:
    """The profiles record of one stored call, for `subject_upsert` (DomainError if unmappable)."""
    if endpoint.format == SourceEndpoint.Format.CUSTOM:
        return mapping.to_record(endpoint.mapping, payload, region=endpoint.default_region)
    return segment.to_record(payload, region=endpoint.default_region)
