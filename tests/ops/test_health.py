"""/healthz during a broker outage: it says so at once, without holding a web worker."""

import time

import pytest
from django.test import Client

from tests.faults import broker_unreachable

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
