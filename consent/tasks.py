"""Celery tasks of consent: thin, no arguments carrying personal data."""

from celery import shared_task

from consent import services, webhooks


@shared_task(name="consent.deliver_webhooks", acks_late=True)
def deliver_webhooks() -> int:
    return webhooks.outbox_deliver()


@shared_task(name="consent.flag_expired")
def flag_expired() -> int:
    """Mark granted consents past their regime's maximum age for a new prompt."""
    return services.consent_flag_expired()
