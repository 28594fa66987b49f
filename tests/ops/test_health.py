"""/healthz during a broker outage: it says so at once, without holding a web worker."""

import time

import pytest
from django.test import Client, override_settings

from tests.faults import broker_unreachable, free_port

pytestmark = pytest.mark.django_db


def test_healthz_reports_an_unreachable_broker_down_within_a_second():
    with broker_unreachable():
        started = time.monotonic()
        response = Client().get("/healthz")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "down"
    assert response.json()["checks"]["database"]["status"] == "up"
    assert elapsed < 1.5  # a load balancer probing every few seconds must not tie up workers


def test_healthz_reports_an_unreachable_cache_down():
    unreachable = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    with override_settings(CACHES=unreachable):
        response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["checks"]["cache"] == {
        "status": "down",
        "latency_ms": response.json()["checks"]["cache"]["latency_ms"],
        "error": "ConnectionError",
    }
    assert response.json()["checks"]["database"]["status"] == "up"


def test_healthz_reports_the_cache_up():
    checks = Client().get("/healthz").json()["checks"]

    assert checks["cache"]["status"] == "up"
