"""The embedded broker and the worker are real: tasks run in another process."""

import os
import uuid

import pytest
from django.core.cache import cache
from django.test import Client

from ops.tasks import ping
from tests.workers import wait_for

pytestmark = pytest.mark.e2e


def test_task_sent_through_broker_runs_in_a_separate_worker_process(worker):
    marker = uuid.uuid4().hex
    ping.delay(marker)
    worker_pid = wait_for(lambda: cache.get(f"ops.ping.{marker}"), message="ping task to run")
    assert worker_pid != os.getpid()
    assert not ping.app.conf.task_always_eager


def test_healthz_reports_workers_up_then_down_after_the_worker_stops(worker, settings):
    settings.CUSTODIA_WORKER_STALE_SECONDS = 5
    client = Client()
    healthy = wait_for(lambda: client.get("/healthz").status_code == 200, message="healthy hub")
    assert healthy
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["broker"]["status"] == "up"
    assert body["checks"]["workers"]["alive"] >= 1

    worker.stop()

    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"]["status"] == "down"


def test_healthz_reports_a_killed_worker_down_once_its_heartbeat_is_stale(worker, settings):
    settings.CUSTODIA_WORKER_STALE_SECONDS = 3
    client = Client()
    wait_for(lambda: client.get("/healthz").status_code == 200, message="healthy hub")
    worker.kill()
    response = wait_for(
        lambda: (r := client.get("/healthz")).status_code == 503 and r,
        timeout=15,
        message="stale heartbeat to mark the workers down",
    )
    assert response.json()["checks"]["workers"]["status"] == "down"
