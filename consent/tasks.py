"""Celery tasks of consent: thin, no arguments carrying personal data."""

from celery import shared_task

from audit.actors import Actor
from consent import retention, services, webhooks


@shared_task(name="consent.deliver_webhooks", acks_late=True)
def deliver_webhooks() -> int:
    return webhooks.outbox_deliver()


@shared_task(name="consent.flag_expired")
def flag_expired() -> int:
    """Mark granted consents past their regime's maximum age for a new prompt."""
    return services.consent_flag_expired()


@shared_task(name="consent.retention_enforce", acks_late=True)
def retention_enforce() -> int:
    """Apply every active retention policy (daily); returns how many rows were removed."""
    report = retention.retention_run(dry_run=False, actor=Actor.system("consent.retention_enforce"))
    return report.total
