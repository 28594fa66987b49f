"""The inbox is drained in claimed batches, not by a task per payload: accepting N payloads
sends one wake-up to the broker (coalesced by a cache flag), a drain claims a batch under a
lease, a full batch wakes another drain (so every worker shares a backlog), a killed worker's
claim is taken over once its lease ran out, and a failing message is retried after a backoff
and dead-lettered on its last attempt."""

from __future__ import annotations

import datetime as dt

import pytest
from celery import current_app
from django.core.cache import cache
from django.utils import timezone

from activation import services
from activation.models import InboxMessage, SourceEndpoint
from core.webhooks import encode, sign
from profiles.models import Event, System

pytestmark = pytest.mark.django_db


@pytest.fixture
def source():
    system = System.objects.create(name="Web shop", kind=System.Kind.SOURCE)
    return SourceEndpoint.objects.create(system=system, regions=["EU"])


@pytest.fixture
def sent(monkeypatch):
    """The task names sent to the broker (nothing really sent), from a clear wake-up flag."""
    names: list[str] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, *a, **k: names.append(name))
    cache.delete(services.WAKE_KEY)
    yield names
    cache.delete(services.WAKE_KEY)


def track(i: int) -> dict:
    return {"type": "track", "messageId": f"m-{i}", "userId": f"u-{i % 3}", "event": "Viewed"}


def accept(source, call) -> InboxMessage:
    body = encode(call)
    message, _ = services.inbox_accept(
        endpoint=source, body=body, signature=sign(source.secret, body)
    )
    return message


def test_many_accepted_payloads_send_one_wake_up(source, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(20):
            accept(source, track(i))
    assert sent == [services.DRAIN_TASK]
    assert services.inbox_drain(batch=50) == 20
    assert sent == [services.DRAIN_TASK]  # the inbox is empty: no further wake-up
    with django_capture_on_commit_callbacks(execute=True):
        accept(source, track(99))  # the drain cleared the flag: a new payload wakes again
    assert sent == [services.DRAIN_TASK, services.DRAIN_TASK]


def test_accepting_a_payload_costs_a_few_queries(
    source, sent, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    accept(source, track(0))
    with django_assert_max_num_queries(4), django_capture_on_commit_callbacks(execute=True):
        accept(source, track(1))  # key and message inserted, no look-up before


def test_a_full_batch_wakes_another_drain_to_share_the_backlog(source, sent):
    for i in range(5):
        accept(source, track(i))
    assert services.inbox_drain(batch=2) == 2
    assert sent == [services.DRAIN_TASK]
    assert services.inbox_drain(batch=2) == 2
    assert services.inbox_drain(batch=2) == 1
    assert sent == [services.DRAIN_TASK, services.DRAIN_TASK]
    assert set(InboxMessage.objects.values_list("status", flat=True)) == {"done"}
    assert Event.objects.count() == 5


def test_a_claimed_batch_is_taken_over_only_after_its_lease(source, sent):
    for i in range(3):
        accept(source, track(i))
    claimed = services.inbox_claim(limit=10, lease=dt.timedelta(minutes=2))
    assert len(claimed) == 3
    assert services.inbox_drain() == 0  # another worker's batch, still leased
    InboxMessage.objects.update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    assert services.inbox_drain() == 3  # the worker died: its lease ran out
    assert list(InboxMessage.objects.values_list("attempts", flat=True)) == [1, 1, 1]


def test_a_failing_message_is_retried_after_a_backoff_then_dead_lettered(source, sent, monkeypatch):
    message = accept(source, track(0))

    def broken(**kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(services, "records_ingest", broken)  # the batch, then the message alone
    monkeypatch.setattr(services, "subject_upsert", broken)
    assert services.inbox_drain() == 0
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (
        "pending",
        1,
        "error: ConnectionError",
    )
    assert message.claimed_until > timezone.now()  # backoff: not claimed again at once
    assert services.inbox_drain() == 0
    for _ in range(2, services.MAX_ATTEMPTS + 1):
        InboxMessage.objects.update(claimed_until=None)
        services.inbox_drain()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("dead", services.MAX_ATTEMPTS)


def test_a_call_that_saw_the_wake_up_flag_asks_for_none(source, sent):
    """The view reads the flag with the endpoint (one cache read): set, no `add`, no send."""
    cache.set(services.WAKE_KEY, 1)
    body = encode(track(0))
    services.inbox_accept(
        endpoint=source, body=body, signature=sign(source.secret, body), wake_waiting=True
    )
    assert sent == []
    assert InboxMessage.objects.filter(status="pending").count() == 1


def test_a_payload_stored_after_the_drain_claimed_wakes_another_at_its_end(
    source, sent, monkeypatch
):
    """A call that read the flag set, then committed after the drain woken by it had claimed
    its batch, asked for no wake-up: the drain wakes another when it ends with free rows."""
    claim = services.inbox_claim

    def claim_then_a_call_arrives(**kwargs):
        ids = claim(**kwargs)
        body = encode(track(1))
        services.inbox_accept(
            endpoint=source, body=body, signature=sign(source.secret, body), wake_waiting=True
        )
        return ids

    accept(source, track(0))
    monkeypatch.setattr(services, "inbox_claim", claim_then_a_call_arrives)
    assert services.inbox_drain(batch=50) == 1
    assert sent == [services.DRAIN_TASK]
    monkeypatch.setattr(services, "inbox_claim", claim)
    assert services.inbox_drain(batch=50) == 1
    assert sent == [services.DRAIN_TASK]  # nothing left: no further wake-up
