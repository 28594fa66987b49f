"""The big admin lists (audit log, ledger, current consents, subjects, inbox) stop at
CUSTODIA_ADMIN_MAX_PAGE: a page is read with OFFSET, which reads every row before it, so a
deeper page answers the first page with a message instead of a query that grows with the
page number."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from core.admin import EstimatedCountPaginator
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db

LISTS = {
    "/admin/audit/auditevent/": "audit_auditevent",
    "/admin/consent/consentrecord/": "consent_consentrecord",
    "/admin/consent/currentconsent/": "consent_currentconsent",
    "/admin/profiles/subject/": "profiles_subject",
    "/admin/activation/inboxmessage/": "activation_inboxmessage",
}


@pytest.mark.parametrize("page", LISTS)
@override_settings(CUSTODIA_ADMIN_MAX_PAGE=100)
def test_a_page_beyond_the_last_answers_a_message_without_reading_the_table(page, roles):
    client = signed_in(make_staff("DPO"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page, {"p": "101", "state__exact": "granted"})
    assert response.status_code == 302
    assert response["Location"] == f"{page}?state__exact=granted"
    assert not [q for q in queries if f'"{LISTS[page]}"' in q["sql"]]
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert len(shown) == 1
    assert "stops at page 100" in shown[0]


@override_settings(CUSTODIA_ADMIN_MAX_PAGE=100)
def test_the_last_page_is_still_served(roles):
    client = signed_in(make_staff("DPO"))
    response = client.get("/admin/audit/auditevent/", {"p": "100"})
    assert response.status_code == 200
    assert "stops at page" not in " ".join(str(m) for m in get_messages(response.wsgi_request))


@override_settings(CUSTODIA_ADMIN_MAX_PAGE=3)
def test_the_page_links_stop_at_the_last_page():
    paginator = EstimatedCountPaginator(list(range(1000)), 100)
    assert paginator.num_pages == 3
    assert list(paginator.page(3).object_list) == list(range(200, 300))
    assert EstimatedCountPaginator(list(range(150)), 100).num_pages == 2
