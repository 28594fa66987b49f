"""The staff list shows each member's roles and regions: a page of many staff costs the
queries of a page of a few."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/admin/auth/user/")
    assert response.status_code == 200
    return len(ctx)


def test_the_staff_list_costs_the_same_queries_for_more_staff(client, roles):
    client.force_login(make_staff(is_superuser=True))
    for _ in range(3):
        make_staff("Privacy officer", regions=["EU"])
    few = _queries(client)
    for _ in range(9):
        make_staff("Support agent", regions=["US-CA"])
    assert _queries(client) == few


def test_the_staff_list_shows_roles_and_regions(client, roles):
    client.force_login(make_staff(is_superuser=True))
    make_staff("Privacy officer", regions=["EU", "GB"])
    page = client.get("/admin/auth/user/").content.decode()
    assert "Privacy officer" in page
    assert "EU, GB" in page
    assert "all regions" in page
