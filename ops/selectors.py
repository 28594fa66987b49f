"""Health of the hub's moving parts: database, cache, broker, workers."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone

from ops.models import WorkerHeartbeat

HEALTH_KEY = "ops:healthz"


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check() or {}
        status = "up"
    except Exception as exc:
        detail = {"error": type(exc).__name__}
        status = "down"
    return {
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        **detail,
    }


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _cache() -> dict[str, Any]:
    # The public endpoints' rate limits live in the cache: without it they cannot answer.
    cache = caches["default"]
    cache.set(HEALTH_KEY, 1, timeout=60)
    if cache.get(HEALTH_KEY) != 1:
        raise RuntimeError("the cache did not keep a value")
    return {"backend": type(cache).__name__}


def _broker() -> dict[str, Any]:
    from settings.celery import app

    with app.connection_for_write() as conn:
        # One attempt: a retry would sleep 2 s in kombu, holding a web worker on each probe.
        conn.ensure_connection(max_retries=0, timeout=3)
        transport = conn.transport_cls
    return {"transport": str(transport)}


def _workers() -> dict[str, Any]:
    cutoff = timezone.now() - dt.timedelta(seconds=settings.CUSTODIA_WORKER_STALE_SECONDS)
    alive = WorkerHeartbeat.objects.filter(last_seen__gte=cutoff, stopped_at__isnull=True).count()
    if not alive:
        raise RuntimeError("no worker has reported recently")
    return {"alive": alive}


def hub_health() -> dict[str, Any]:
    """State of the database, the cache, the broker and the workers; `status` is ok only if all
    are up."""
    checks = {"database": _timed(_database), "cache": _timed(_cache), "broker": _timed(_broker)}
    if checks["database"]["status"] == "up":
        checks["workers"] = _timed(_workers)
        if checks["workers"]["status"] == "down":
            checks["workers"]["error"] = "no worker has reported recently"
    else:
        checks["workers"] = {"status": "unknown"}
    ok = all(check["status"] == "up" for check in checks.values())
    return {"status": "ok" if ok else "down", "checks": checks}
