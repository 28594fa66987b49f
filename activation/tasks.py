"""Workers of the activation app: drain the inbox (one claimed batch per run), push
destinations' audience changes."""

from __future__ import annotations

from celery import shared_task

from activation import services


@shared_task(name="activation.inbox_drain")
def inbox_drain() -> int:
    return services.inbox_drain()


@shared_task(name="activation.destinations_push")
def destinations_push() -> int:
    return services.destinations_push()
