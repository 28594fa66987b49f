"""Consent changes wake the webhook delivery and the destinations' push without flooding the
broker: a thousand committed changes leave one wake-up message of each waiting, not a thousand;
the task clears its flag before it reads, so a change committed after that wakes it again."""

from __future__ import annotations

import pytest
from celery.signals import before_task_publish

from activation.services import PUSH_TASK, destinations_push
from audit.actors import Actor
from consent.models import ConsentWebhook, Purpose, WebhookDelivery
from consent.services import consent_record
from consent.webhooks import DELIVER_TASK, outbox_deliver
from tests.factories import make_subject
from tests.faults import broker_unreachable

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("tests")


@pytest.fixture
def published():
    """Names of the tasks this process publishes to the (real) test broker."""
    names: list[str] = []

    def _seen(sender: str | None = None, **kwargs: object) -> None:
        names.append(str(sender))

    before_task_publish.connect(_seen, weak=False)
    yield names
    before_task_publish.disconnect(_seen)


def _change(subject, state: str = "granted") -> None:
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state=state,
        channel="api",
        actor=SYSTEM,
        subject=subject,
    )


def test_many_committed_changes_send_one_wake_up_of_each_task(published):
    ConsentWebhook.objects.create(name="CRM", url="http://127.0.0.1:9/", secret="s")
    subjects = [make_subject(region="EU") for _ in range(12)]
    for subject in subjects:
        _change(subject)

    assert WebhookDelivery.objects.count() == 12  # every change is queued for delivery
    assert published.count(DELIVER_TASK) == 1
    assert published.count(PUSH_TASK) == 1

    # The tasks clear their flags before reading: the next change wakes them again.
    outbox_deliver()
    destinations_push()
    _change(subjects[0], "denied")
    assert published.count(DELIVER_TASK) == 2
    assert published.count(PUSH_TASK) == 2


def test_a_delivery_backlog_wakes_another_run_for_the_next_batch(published):
    ConsentWebhook.objects.create(name="CRM", url="http://127.0.0.1:9/", secret="s")
    for subject in [make_subject(region="EU") for _ in range(7)]:
        _change(subject)
    published.clear()
    outbox_deliver(batch=5)  # a full batch: the rest is left to another run, woken now
    assert published.count(DELIVER_TASK) == 1
    outbox_deliver(batch=5)  # 2 left: no further wake-up
    assert published.count(DELIVER_TASK) == 1


def test_a_wake_up_lost_to_a_broker_outage_does_not_hold_back_the_next_one(published):
    ConsentWebhook.objects.create(name="CRM", url="http://127.0.0.1:9/", secret="s")
    subject = make_subject(region="EU")
    with broker_unreachable():
        _change(subject)  # committed; its wake-up fails (beat's run would deliver it)
    assert WebhookDelivery.objects.count() == 1
    published.clear()
    _change(subject, "denied")
    assert published.count(DELIVER_TASK) == 1
    assert published.count(PUSH_TASK) == 1


def test_a_silent_broker_fails_a_publish_within_the_timeout_then_at_once(settings):
    """A broker that accepts connections and never answers held the request that published
    (no socket timeout: over two minutes here); now the publish fails within the broker
    socket timeout (twice, with the one retry) and the next ones, for a few seconds, at once;
    every caller leaves the work to beat's sweepers."""
    import time

    from kombu.exceptions import OperationalError as BrokerError

    from core.wake import publish
    from settings.celery import app
    from tests.faults import silent_server, use_broker

    previous = app.conf.broker_write_url
    options = dict(app.conf.broker_transport_options)
    app.conf.broker_transport_options = {
        **options,
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
    }
    try:
        with silent_server() as url:
            use_broker(url)
            started = time.monotonic()
            with pytest.raises(BrokerError):
                publish("activation.inbox_drain")
            first = time.monotonic() - started
            started = time.monotonic()
            with pytest.raises(BrokerError):
                publish("activation.inbox_drain")
            second = time.monotonic() - started
    finally:
        app.conf.broker_transport_options = options
        use_broker(previous)
    assert first < 5, first
    assert second < 0.05, second


def test_a_transports_own_fault_loses_a_wake_up_not_the_request(monkeypatch, published):
    """kombu's SQLAlchemy transport (the embedded broker) can publish on a channel its
    connection had closed (AttributeError): that wake-up is lost as to a broker that is down
    (the periodic run catches up); the change stays committed and its caller sees no error."""
    from celery import current_app

    from core import wake

    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'client'")

    monkeypatch.setattr(current_app, "send_task", broken)
    ConsentWebhook.objects.create(name="CRM", url="http://127.0.0.1:9/", secret="s")
    _change(make_subject(region="EU"))  # its wake-up meets the fault: no error reaches here
    assert WebhookDelivery.objects.count() == 1
    with pytest.raises(wake.BrokerError):
        wake.publish(DELIVER_TASK)
    assert published == []
