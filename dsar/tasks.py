"""Celery tasks of dsar: thin, ids only, idempotent (the step's state is in the database)."""

from celery import shared_task
from django.db import OperationalError

from dsar import engine, housekeeping


@shared_task(
    name="dsar.run_step",
    acks_late=True,
    autoretry_for=(OperationalError, OSError),
    retry_backoff=True,
    max_retries=8,
)
def run_step(step_id: int) -> list[str]:
    """Claim and run a pipeline step, then the request's following steps while they complete;
    a second delivery of the same message is a no-op."""
    return engine.steps_run_from(step_id=step_id)


@shared_task(name="dsar.sweep")
def sweep() -> dict:
    """Beat: resume steps of killed workers, retry connected systems, expire, clean up."""
    return housekeeping.sweep()


@shared_task(name="dsar.deadline_reminders")
def deadline_reminders() -> int:
    """Beat: mail officers about requests overdue or due within a week."""
    return housekeeping.deadline_reminders()
