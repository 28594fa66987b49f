"""The inbox's filter by source names only the sources an officer may see messages of: the
names of sources writing other regions (a partner, a shop abroad) stay out of their screen."""

from __future__ import annotations

import pytest

from activation.models import InboxMessage, SourceEndpoint
from profiles.models import System
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def _source(name: str, region: str) -> SourceEndpoint:
    system = System.objects.create(name=name, kind=System.Kind.SOURCE)
    source = SourceEndpoint.objects.create(system=system, regions=[region])
    InboxMessage.objects.create(
        source=source, message_id=f"m-{name}", kind="identify", region=region, payload={}
    )
    return source


def test_the_source_filter_lists_only_sources_of_the_officers_regions(client, roles):
    _source("Berlin shop", "EU")
    _source("Texas partner", "US-TX")
    client.force_login(make_staff("Privacy officer", regions=["EU"]))

    page = client.get("/admin/activation/inboxmessage/").content.decode()

    assert "Berlin shop" in page
    assert "Texas partner" not in page


def test_an_officer_of_every_region_filters_by_every_source(client, roles):
    _source("Berlin shop", "EU")
    _source("Texas partner", "US-TX")
    client.force_login(make_staff("Privacy officer"))

    page = client.get("/admin/activation/inboxmessage/").content.decode()

    assert "Berlin shop" in page
    assert "Texas partner" in page


def test_the_source_filter_narrows_the_list_and_a_hand_edited_value_is_no_error(client, roles):
    berlin = _source("Berlin shop", "EU")
    _source("Paris shop", "EU")
    client.force_login(make_staff("Privacy officer", regions=["EU"]))

    page = client.get(f"/admin/activation/inboxmessage/?source__id__exact={berlin.pk}")
    assert page.status_code == 200
    assert "m-Berlin shop" in page.content.decode()
    assert "m-Paris shop" not in page.content.decode()
    for junk in ("1", "not-a-uuid", "' OR 1=1 --"):
        response = client.get("/admin/activation/inboxmessage/", {"source__id__exact": junk})
        assert response.status_code in (200, 302), junk
