"""Consent-change webhooks through an outbox: enqueued with the change, delivered by Celery."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from consent.models import ConsentRecord, ConsentWebhook, WebhookDelivery
from consent.refdata import refdata
from core import webhooks
from core.wake import wake, woken

MAX_ATTEMPTS = 8
DELIVER_TASK = "consent.deliver_webhooks"
LEASE = dt.timedelta(minutes=2)


# Called after the commit of any consent change of a subject (higher apps register here, e.g.
# activation pushes destinations' audience changes): callables without arguments.
AFTER_SUBJECT_CHANGE: list[Callable[[], None]] = []


def outbox_enqueue_many(records: list[ConsentRecord]) -> int:
    """Call inside the consent transaction: one delivery per active webhook and record, all in
    one insert, sent after commit (or by beat's next delivery run if the broker is down then).
    The active webhooks come from the reference-data cache (reloaded after any change)."""
    if any(r.subject_id for r in records):
        for hook in AFTER_SUBJECT_CHANGE:
            transaction.on_commit(hook)
    hooks = refdata().webhooks
    if not hooks or not records:
        return 0
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(webhook=hook, payload=_payload(record), next_attempt_at=now)
            for record in records
            for hook in hooks
        ]
    )

    transaction.on_commit(_send_deliveries)
    return len(hooks) * len(records)


def outbox_enqueue_payload(*, webhook: ConsentWebhook, payload: dict) -> WebhookDelivery:
    """Queue one signed delivery of `payload` (ids and states only) to `webhook`, sent after
    commit and retried like consent changes (used by destinations' audience pushes)."""
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, payload=payload, next_attempt_at=timezone.now()
    )
    transaction.on_commit(_send_deliveries)
    return delivery


def _send_deliveries() -> None:
    # The rows are committed: one wake-up at most waits (`core.wake`); with the broker down,
    # beat's delivery run sends them. By the task's registered name: consent.tasks imports
    # this module, not the reverse.
    wake(DELIVER_TASK)


def outbox_enqueue(record: ConsentRecord) -> int:
    """`outbox_enqueue_many` for one record."""
    return outbox_enqueue_many([record])


def _payload(record: ConsentRecord) -> dict:
    return {
        "event": "consent.changed",
        "record": str(record.pk),
        "subject": str(record.subject_id) if record.subject_id else None,
        "visitor": record.visitor_id or None,
        "purpose": record.purpose.slug,
        "state": record.state,
        "jurisdiction": record.jurisdiction,
        "gpc": record.gpc,
        "recorded_at": record.recorded_at.isoformat(),
    }


def outbox_deliver(*, batch: int = 100) -> int:
    """Deliver due rows; each row is claimed (claim-then-check) so two workers never send it
    twice at once; failures back off exponentially and give up after MAX_ATTEMPTS."""
    woken(DELIVER_TASK)  # rows queued from now on wake another run
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    )
    delivered = 0
    ids = list(due.values_list("pk", flat=True)[:batch])
    if len(ids) == batch:
        wake(DELIVER_TASK)  # a backlog: another run takes the next batch
    for delivery_id in ids:
        claimed = WebhookDelivery.objects.filter(
            Q(pk=delivery_id), Q(next_attempt_at__lte=now), status=WebhookDelivery.Status.PENDING
        ).update(next_attempt_at=now + LEASE)
        if not claimed:
            continue
        delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
        result = webhooks.deliver(
            delivery.webhook.url, delivery.payload, secret=delivery.webhook.secret
        )
        attempts = delivery.attempts + 1
        if result.ok:
            WebhookDelivery.objects.filter(pk=delivery_id).update(
                status=WebhookDelivery.Status.DELIVERED,
                attempts=attempts,
                delivered_at=timezone.now(),
                last_error="",
            )
            delivered += 1
        else:
            WebhookDelivery.objects.filter(pk=delivery_id).update(
                attempts=attempts,
                last_error=result.error[:200],
                status=WebhookDelivery.Status.FAILED
                if attempts >= MAX_ATTEMPTS
                else WebhookDelivery.Status.PENDING,
                next_attempt_at=timezone.now() + dt.timedelta(seconds=min(3600, 2**attempts * 5)),
            )
    return delivered
