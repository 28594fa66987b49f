"""An officer of some regions lists and counts their consent records from the ledger's
(region, recorded_at) index, not by reading every region's records (PostgreSQL's plans for
the changelist's own queries, on a ledger loaded set-based)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consent.models import Purpose
from tests.factories import make_staff

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans"),
]

RECORDS = 40_000


def _ledger() -> None:
    purpose = Purpose.objects.first() or Purpose.objects.create(slug="analytics", name="A")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO consent_consentrecord (id, visitor_id, region, jurisdiction,"
            " purpose_id, state, channel, recorded_at, user_agent, ip_truncated, gpc,"
            " tc_string, recorded_by, prev_hash, hash, language, gpp_string)"
            " SELECT md5('r' || g)::uuid, 'visitor-' || g,"
            " CASE WHEN g %% 200 = 0 THEN 'US-VA' WHEN g %% 10 = 1 THEN 'BR' ELSE 'EU' END,"
            " 'GDPR', %s, 'granted', 'banner', now() - interval '1 minute' * g, '', '', false,"
            " '', '', repeat('0', 64), repeat('1', 64), 'en', ''"
            " FROM generate_series(1, %s) g",
            [purpose.pk, RECORDS],
        )
        cursor.execute("ANALYZE consent_consentrecord")


def _plans(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/consent/consentrecord/")
    assert response.status_code == 200
    ledger = [
        q["sql"]
        for q in queries
        if 'FROM "consent_consentrecord"' in q["sql"] and not q["sql"].startswith("EXPLAIN")
    ]
    assert ledger
    plans = []
    with connection.cursor() as cursor:
        for sql in ledger:
            cursor.execute(f"EXPLAIN {sql}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def test_an_officer_of_a_small_region_lists_and_counts_from_the_region_index(client, roles):
    _ledger()
    client.force_login(make_staff("Privacy officer", regions=["US-VA"]))
    plans = _plans(client)
    assert all("consent_record_region_time" in plan for plan in plans), plans
    assert not [plan for plan in plans if "Seq Scan on consent_consentrecord" in plan]


def test_an_officer_of_a_larger_region_counts_without_reading_every_record(client, roles):
    _ledger()
    client.force_login(make_staff("Privacy officer", regions=["BR"]))
    plans = _plans(client)
    assert not [plan for plan in plans if "Seq Scan on consent_consentrecord" in plan], plans
