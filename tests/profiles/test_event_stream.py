"""The export's event stream reads each event's id and time as text made by the database
(`core.db.functions`): the text must be what Python makes of the values (`str(uuid)` in the
payload's associated data, `isoformat()` in the archive), to the microsecond, on each database."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from audit.actors import Actor
from core.db.functions import IsoUtc, UuidText
from profiles.models import Event
from profiles.selectors import EventStream
from profiles.services import subject_upsert

pytestmark = pytest.mark.django_db

TIMES = [
    dt.datetime(2025, 1, 1, 0, 0, 0, tzinfo=dt.UTC),  # no fraction: isoformat writes none
    dt.datetime(2025, 3, 30, 1, 59, 59, 1, tzinfo=dt.UTC),
    dt.datetime(2025, 10, 26, 23, 5, 7, 999999, tzinfo=dt.UTC),
    dt.datetime(2025, 6, 1, 12, 0, 0, 500000, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
]


def _subject():
    record = {
        "region": "EU",
        "identifiers": [{"kind": "email", "value": "stream@example.com"}],
        "events": [
            {"name": f"e{n}", "occurred_at": at.isoformat(), "payload": {"n": n, "t": "é"}}
            for n, at in enumerate(TIMES)
        ],
    }
    return subject_upsert(record=record, actor=Actor.system("tests")).subject_id


def test_the_database_text_is_what_python_writes():
    _subject()
    rows = Event.objects.values_list("pk", "occurred_at", UuidText("pk"), IsoUtc("occurred_at"))
    assert len(rows) == len(TIMES)
    for pk, at, pk_text, at_text in rows:
        assert pk_text == str(pk)
        assert at_text == at.isoformat()
        assert dt.datetime.fromisoformat(at_text) == at


def test_every_event_is_streamed_decrypted_in_time_order():
    from profiles.models import Subject

    subject = Subject.objects.get(pk=_subject())
    for raw in (False, True):
        events = list(EventStream(subject, raw_payload=raw))
        assert [e["occurred_at"] for e in events] == [
            at.astimezone(dt.UTC).isoformat() for at in sorted(TIMES)
        ]
        payloads = [json.loads(e["payload"]) if raw else e["payload"] for e in events]
        assert sorted(p["n"] for p in payloads) == list(range(len(TIMES)))
        assert all(p["t"] == "é" for p in payloads)
