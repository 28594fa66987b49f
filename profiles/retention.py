"""The writes retention policies (consent/retention.py) make to profiles' rows: deleting events
and attributes, anonymising events. Profiles owns the rows, so the writes live here."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from profiles.models import Attribute, Event

# Anonymised events get this dedup key prefix: they are not anonymised twice, and the old key
# (a keyed hash of name, time and payload) goes with the payload.
ANONYMISED_PREFIX = "anon:"


def events_delete(*, ids: Collection[Any]) -> int:
    """Delete the events with these ids; returns how many rows went (cascades included)."""
    deleted, _ = Event.objects.filter(pk__in=list(ids)).delete()
    return deleted


def attributes_delete(*, ids: Collection[Any]) -> int:
    """Delete the attributes with these ids; returns how many rows went."""
    deleted, _ = Attribute.objects.filter(pk__in=list(ids)).delete()
    return deleted


def events_anonymise(*, ids: Collection[Any]) -> int:
    """Empty the payload, cut the time to the month, replace the dedup key: through save(), the
    only way an encrypted field is written (update() refuses it). Returns how many events."""
    subjects: dict = {}
    events = Event.objects.filter(pk__in=list(ids)).select_related("subject")
    for event in events:
        event.subject = subjects.setdefault(event.subject_id, event.subject)  # one key unwrap
        event.payload = {}
        event.occurred_at = event.occurred_at.replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )
        event.dedup_key = f"{ANONYMISED_PREFIX}{event.pk.hex}"
        event.save(update_fields=["payload", "occurred_at", "dedup_key"])
    return len(events)
