"""Operational writes: worker heartbeats."""

from __future__ import annotations

import datetime as dt

from django.db import OperationalError, transaction
from django.utils import timezone

from ops.models import WorkerHeartbeat


def worker_heartbeat_record(*, hostname: str, pid: int) -> None:
    """Mark the worker `hostname` alive now. A transient database error skips one beat."""
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = WorkerHeartbeat.objects.filter(hostname=hostname, pid=pid).update(
                last_seen=now, stopped_at=None
            )
            if not updated:
                WorkerHeartbeat.objects.update_or_create(
                    hostname=hostname,
                    defaults={"pid": pid, "started_at": now, "last_seen": now, "stopped_at": None},
                )
    except OperationalError:
        return


def worker_heartbeat_stop(*, hostname: str) -> None:
    """Mark the worker `hostname` stopped (graceful shutdown)."""
    try:
        WorkerHeartbeat.objects.filter(hostname=hostname).update(stopped_at=timezone.now())
    except OperationalError:
        return


def worker_heartbeat_prune(*, older_than_seconds: float = 86400) -> int:
    """Forget workers not seen for a day; returns how many were removed."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    deleted, _ = WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).delete()
    return deleted
