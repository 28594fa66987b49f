"""Workers of the activation app: process one inbox message (id only), resend stalled ones."""

from __future__ import annotations

from celery import shared_task

from activation import services


@shared_task(
    name="activation.inbox_process",
    bind=True,
    max_retries=services.MAX_ATTEMPTS - 1,
    acks_late=True,
)
def inbox_process(self, message_id: str) -> str:
    final = self.request.retries >= self.max_retries
    try:
        return services.inbox_process(message_id, final=final)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 60)) from exc


@shared_task(name="activation.inbox_resend_stalled")
def inbox_resend_stalled() -> int:
    return services.inbox_resend_stalled()


@shared_task(name="activation.destinations_push")
def destinations_push() -> int:
    return services.destinations_push()
