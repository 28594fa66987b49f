"""Two drains at once whose batches name the same people (two workers sharing a backlog)
create each person once and lose no event: the batch that inserts a person's identity second
waits for the first, then upserts its records one by one onto that person. PostgreSQL:
SQLite's write transactions run one at a time anyway."""

from __future__ import annotations

import threading

import pytest
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from activation import services
from activation.models import InboxMessage, SourceEndpoint
from core.webhooks import encode, sign
from profiles.crypto.blind_index import blind_index, normalize
from profiles.models import Event, Identifier, Subject, System

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="concurrent transactions: PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]

PEOPLE = 8


def test_two_batches_naming_the_same_people_at_once_create_each_once(monkeypatch):
    monkeypatch.setattr(current_app, "send_task", lambda *a, **k: None)
    cache.delete(services.WAKE_KEY)
    system = System.objects.create(name="Web shop", kind=System.Kind.SOURCE)
    source = SourceEndpoint.objects.create(system=system, regions=["EU"])
    for n in range(4 * PEOPLE):
        user = f"u-{n % PEOPLE}"
        call = (
            {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}}
            if n < PEOPLE
            else {"type": "track", "userId": user, "event": "Viewed", "properties": {"n": n}}
        )
        body = encode({"messageId": f"m-{n}", **call})
        services.inbox_accept(endpoint=source, body=body, signature=sign(source.secret, body))
    ids = list(InboxMessage.objects.order_by("received_at").values_list("pk", flat=True))
    halves = [ids[0::2], ids[1::2]]  # each batch names every person
    start = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def drain(batch):
        try:
            start.wait()
            services.inbox_process_batch(batch)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert set(InboxMessage.objects.values_list("status", flat=True)) == {"done"}
    assert Subject.objects.count() == PEOPLE
    for n in range(PEOPLE):
        index = blind_index("customer_id", normalize("customer_id", f"u-{n}"))
        holder = Identifier.objects.get(kind="customer_id", value_index=index).subject
        assert Event.objects.filter(subject=holder).count() == 3
        assert Identifier.objects.filter(subject=holder, kind="email").count() == 1
    cache.delete(services.WAKE_KEY)
