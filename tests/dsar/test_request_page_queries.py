"""A request's page for a long-running case: the timeline's notes (each encrypted under a key
of its own) and the step list cost the queries of a short case."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.actors import Actor
from dsar import services
from tests.factories import make_staff, make_subject

SYSTEM = Actor.system("crm")


def _queries(client, dsr) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/admin/dsar/datasubjectrequest/{dsr.pk}/change/")
    assert response.status_code == 200
    return len(ctx), response.content.decode()


def test_a_request_page_with_many_notes_costs_the_queries_of_one_with_few(client):
    subject = make_subject(region="EU")
    dsr, _ = services.request_create(
        kind="access", channel="api", actor=SYSTEM, subject=subject, verification="service"
    )
    officer = make_staff("Privacy officer", regions=["EU"])
    client.force_login(officer)
    for n in range(3):
        services.request_note(request=dsr, actor=SYSTEM, note=f"called back {n}")
    _queries(client, dsr)  # the first page of a session reads what later pages find cached
    few, _ = _queries(client, dsr)
    for n in range(3, 15):
        services.request_note(request=dsr, actor=SYSTEM, note=f"called back {n}")
    many, page = _queries(client, dsr)
    assert many == few
    assert "called back 0" in page
    assert "called back 14" in page
