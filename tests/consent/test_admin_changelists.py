"""The ledger and its projection in the admin: a page of 100 rows costs the queries of a page of
3 (a privacy team pages through millions of consent records)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.actors import Actor
from consent.models import Notice, Purpose
from consent.services import consent_record
from tests.factories import make_staff, make_subject

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def _record_for_new_subjects(count: int, notice: Notice, purpose: Purpose) -> None:
    for _ in range(count):
        consent_record(
            purpose=purpose,
            state="granted",
            channel="api",
            actor=SYSTEM,
            subject=make_subject(region="EU"),
            notice=notice,
        )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


@pytest.mark.parametrize("page", ["consentrecord", "currentconsent"])
def test_a_ledger_page_costs_the_same_queries_for_more_rows(client, roles, page):
    purpose = Purpose.objects.get(slug="analytics")
    notice = Notice.objects.create(language="en", version=99, title="Cookies", text="…")
    notice.purposes.add(purpose)
    client.force_login(make_staff("DPO"))
    url = f"/admin/consent/{page}/"
    _record_for_new_subjects(3, notice, purpose)
    few = _queries(client, url)
    _record_for_new_subjects(9, notice, purpose)
    assert _queries(client, url) == few
