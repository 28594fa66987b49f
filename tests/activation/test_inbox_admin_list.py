"""The inbox's list reads no payload: it shows none, and each payload is an encrypted blob of up
to the body limit (reading it for a page of 100 messages moved megabytes for nothing)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activation.models import InboxMessage, SourceEndpoint
from profiles.models import System
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def _message(region: str = "EU") -> InboxMessage:
    system = System.objects.create(name="Berlin shop", kind=System.Kind.SOURCE)
    source = SourceEndpoint.objects.create(system=system, regions=[region])
    return InboxMessage.objects.create(
        source=source,
        message_id="m-1",
        kind="identify",
        region=region,
        payload={"traits": {"email": "jane@example.com"}},
    )


def test_the_inbox_list_does_not_select_the_payload(client, roles):
    _message()
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    table = InboxMessage._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/activation/inboxmessage/")
    assert page.status_code == 200
    assert "m-1" in page.content.decode()
    listing = [q["sql"] for q in queries if f'FROM "{table}"' in q["sql"]]
    assert listing
    assert [sql for sql in listing if f'"{table}"."payload"' in sql] == []


def test_a_message_page_still_shows_its_payload_masked(client, roles):
    message = _message()
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    page = client.get(f"/admin/activation/inboxmessage/{message.pk}/change/").content.decode()
    assert "traits" in page
    assert "jane@example.com" not in page
