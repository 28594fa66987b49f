import os

from celery import shared_task
from django.core.cache import cache

from ops import services


@shared_task(name="ops.prune_worker_heartbeats")
def prune_worker_heartbeats() -> int:
    return services.worker_heartbeat_prune()


@shared_task(name="ops.ping")
def ping(marker_id: str) -> str:
    """Round trip through broker and worker; used by tests and by operators to check the path."""
    cache.set(f"ops.ping.{marker_id}", os.getpid(), timeout=300)
    return marker_id
