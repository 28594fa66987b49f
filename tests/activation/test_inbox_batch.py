"""A drain processes its claimed batch together (the bulk import's set-based path), with the
outcome of processing the messages one by one in the order they came: the same people, the
same identities, the last value of each attribute, every event; a message refused for its own
reason (unmappable call, erased identity) is dead-lettered alone, its neighbours done; the
queries of a batch do not grow with its size."""

from __future__ import annotations

import pytest
from celery import current_app
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from activation import services
from activation.models import InboxMessage, SourceEndpoint
from audit.actors import Actor
from core.webhooks import encode, sign
from profiles.crypto.blind_index import blind_index, normalize
from profiles.models import Event, Identifier, Subject, System
from tests.factories import make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def source():
    system = System.objects.create(name="Web shop", kind=System.Kind.SOURCE)
    return SourceEndpoint.objects.create(system=system, regions=["EU"])


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(current_app, "send_task", lambda *a, **k: None)
    cache.delete(services.WAKE_KEY)
    yield
    cache.delete(services.WAKE_KEY)


def accept(source, calls) -> None:
    for n, call in enumerate(calls):
        body = encode({"messageId": f"m-{n}", **call})
        services.inbox_accept(endpoint=source, body=body, signature=sign(source.secret, body))


def holder(kind, value) -> Subject | None:
    row = Identifier.objects.filter(
        kind=kind, value_index=blind_index(kind, normalize(kind, value))
    )
    return row.first().subject if row.exists() else None


CALLS = [
    {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com", "plan": "gold"}},
    {"type": "track", "userId": "u-1", "event": "Viewed"},
    {"type": "track", "anonymousId": "anon-9", "event": "Browsed"},
    {"type": "identify", "userId": "u-2", "traits": {"email": "bo@example.com", "plan": "free"}},
    {"type": "identify", "userId": "u-1", "traits": {"plan": "platinum", "city": "Lyon"}},
    {"type": "alias", "userId": "u-2", "previousId": "anon-9"},
    {"type": "track", "event": "Nobody"},  # neither userId nor anonymousId: dead
    {"type": "identify", "userId": "u-3", "traits": {"email": "erased@example.com"}},  # dead
    {"type": "track", "userId": "u-3", "event": "Viewed"},  # the same person: done
    {"type": "page", "userId": "u-2", "name": "Home"},
]


def process(mode: str) -> None:
    if mode == "one by one":
        for pk in InboxMessage.objects.order_by("received_at").values_list("pk", flat=True):
            services.inbox_process(pk)
    else:
        assert services.inbox_drain() == len(CALLS)


@pytest.mark.parametrize("mode", ["one by one", "batch"])
def test_a_batch_ends_as_processing_its_messages_one_by_one(source, mode):
    erased = make_subject(region="EU", email="erased@example.com")
    from profiles.services import subject_erase

    subject_erase(subject_id=erased.pk, actor=Actor.system("test"), reason="asked")
    accept(source, CALLS)
    process(mode)

    statuses = dict(InboxMessage.objects.values_list("message_id", "status"))
    assert statuses == {f"m-{n}": "dead" if n in (6, 7) else "done" for n in range(len(CALLS))}
    dead = InboxMessage.objects.get(message_id="m-7")
    assert "suppressed" in dead.last_error
    assert "erased@" not in dead.last_error

    one, two, three = (holder("customer_id", f"u-{n}") for n in (1, 2, 3))
    assert len({one.pk, two.pk, three.pk}) == 3
    assert holder("email", "ada@example.com").pk == one.pk
    assert holder("email", "bo@example.com").pk == holder("device_id", "anon-9").pk == two.pk
    assert holder("email", "erased@example.com") is None
    assert {a.key: a.value for a in one.attributes.all()} == {"plan": "platinum", "city": "Lyon"}
    assert {a.key: a.value for a in two.attributes.all()} == {"plan": "free"}

    def events(subject):
        return sorted(Event.objects.filter(subject=subject).values_list("name", flat=True))

    assert (events(one), events(two), events(three)) == (
        ["Viewed"],
        ["Browsed", "page"],
        ["Viewed"],
    )
    assert Subject.objects.filter(status=Subject.Status.ACTIVE).count() == 3
    if mode == "batch":  # every message names the person it ended on (no transient visitor)
        for message in InboxMessage.objects.filter(status="done"):
            call = CALLS[int(message.message_id[2:])]
            kind, value = (
                ("customer_id", call["userId"]) if "userId" in call else ("device_id", "anon-9")
            )
            assert message.subject_id == holder(kind, value).pk
            assert message.attempts == 1
            assert message.processed_at is not None


def test_a_batch_needs_the_same_queries_for_10_or_80_people(source, settings):
    settings.CUSTODIA_INBOX_BATCH = 200

    def drained(people: int, tag: str) -> int:
        calls = []
        for n in range(people):
            calls += [
                {
                    "type": "identify",
                    "userId": f"{tag}-{n}",
                    "traits": {"email": f"{tag}-{n}@example.com", "plan": "gold"},
                },
                {"type": "track", "userId": f"{tag}-{n}", "event": "Viewed", "properties": {}},
            ]
        for n, call in enumerate(calls):
            body = encode({"messageId": f"{tag}-{n}", **call})
            services.inbox_accept(endpoint=source, body=body, signature=sign(source.secret, body))
        with CaptureQueriesContext(connection) as queries:
            assert services.inbox_drain() == len(calls)
        return len(queries)

    few, many = drained(10, "a"), drained(80, "b")
    assert many <= few + 2, (few, many)  # a little slack for the matching model's first load
    assert few <= 40
    assert InboxMessage.objects.filter(status="done").count() == 180


def test_an_unexpected_failure_of_the_batch_processes_each_message_on_its_own(source, monkeypatch):
    """The batch rolls back as a whole; its messages are then processed one by one, so a
    message that fails on its own is retried alone and the others are done."""
    accept(source, CALLS[:4])
    real = services.subject_upsert

    def flaky(**kwargs):
        if kwargs["record"]["identifiers"][0]["value"] == "u-2":
            raise ConnectionError("the database went away")
        return real(**kwargs)

    def broken(*args, **kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(services, "records_ingest", broken)
    monkeypatch.setattr(services, "subject_upsert", flaky)
    assert services.inbox_drain() == 3
    statuses = dict(InboxMessage.objects.values_list("message_id", "status"))
    assert statuses == {"m-0": "done", "m-1": "done", "m-2": "done", "m-3": "pending"}
    assert InboxMessage.objects.get(message_id="m-3").attempts == 1


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


def test_a_batch_that_lost_a_lock_race_runs_again_without_counting_an_attempt(source, monkeypatch):
    """Two workers' batches naming the same people can deadlock on PostgreSQL; the one the
    database rolls back is run again whole, not split into single messages counted as failed
    (tests/ops/test_db_conflicts.py shows a real deadlock is recognised as one)."""
    accept(source, CALLS[:4])
    real = services.records_ingest
    calls = []

    def races_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            error = OperationalError("deadlock detected")
            error.__cause__ = _Deadlock()
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "records_ingest", races_once)
    assert services.inbox_drain() == 4
    assert set(InboxMessage.objects.values_list("status", "attempts")) == {("done", 1)}
    assert len(calls) == 2  # one source's batch: rolled back once, then done together


def test_a_lost_lock_race_on_the_last_attempt_does_not_dead_letter_the_message(source, monkeypatch):
    accept(source, CALLS[:1])
    message = InboxMessage.objects.get()
    InboxMessage.objects.filter(pk=message.pk).update(attempts=services.MAX_ATTEMPTS - 1)

    def races(**kwargs):
        error = OperationalError("deadlock detected")
        error.__cause__ = _Deadlock()
        raise error

    monkeypatch.setattr(services, "subject_upsert", races)
    with pytest.raises(OperationalError):
        services.inbox_process(message.pk)
    message.refresh_from_db()
    assert message.status == "pending"
    assert message.attempts == services.MAX_ATTEMPTS - 1  # rolled back: not counted
