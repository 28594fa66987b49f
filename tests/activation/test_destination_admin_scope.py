"""A destination's purposes, token, push webhook and identifier form decide what leaves about
the people its token reaches: an officer limited to some regions may not change (or delete) a
destination whose token reaches Californians, nor give a destination such a token. An EU
privacy officer could switch a US destination to identifiers in clear, or drop the purpose
whose GPC opt-outs kept people out of it."""

from __future__ import annotations

import pytest

from access.scoping import Principal
from activation.models import Destination
from activation.services import audience_sync
from consent.models import Purpose
from profiles.models import System
from tests.activation.test_audience import _record
from tests.factories import make_staff, make_subject, make_token

pytestmark = pytest.mark.django_db


def _destination(name, regions):
    token, _raw = make_token(["destinations:read"], regions=regions)
    system = System.objects.create(name=name, kind=System.Kind.DESTINATION)
    destination = Destination.objects.create(system=system, token=token)
    destination.purposes.set(Purpose.objects.filter(slug="sale_sharing"))
    return destination


def _form(destination, **changes):
    data = {
        "system": destination.system_id,
        "purposes": [p.pk for p in destination.purposes.all()],
        "token": destination.token_id or "",
        "push_webhook": "",
    }
    return {**data, **changes}


def test_an_eu_officer_cannot_change_a_destination_reaching_californians(client, roles):
    us = _destination("Ad platform US", ["EU", "US-CA"])
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    url = f"/admin/activation/destination/{us.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200  # they may still see it (and export its EU people)
    assert 'name="_save"' not in page.content.decode()
    analytics = Purpose.objects.get(slug="analytics")
    response = client.post(url, _form(us, purposes=[analytics.pk], clear_identifiers="on"))
    assert response.status_code == 403
    us.refresh_from_db()
    assert not us.clear_identifiers
    assert [p.slug for p in us.purposes.all()] == ["sale_sharing"]
    delete = client.post(f"/admin/activation/destination/{us.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    assert Destination.objects.filter(pk=us.pk).exists()


def test_an_eu_officer_cannot_give_a_destination_a_token_reaching_californians(client, roles):
    eu = _destination("Ad platform EU", ["EU"])
    us_token = _destination("Ad platform US", ["US-CA"]).token
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    url = f"/admin/activation/destination/{eu.pk}/change/"
    assert client.post(url, _form(eu, token=us_token.pk)).status_code == 200  # form error
    eu.refresh_from_db()
    assert eu.token_id != us_token.pk
    assert client.post(url, _form(eu, clear_identifiers="on")).status_code == 302
    eu.refresh_from_db()
    assert eu.clear_identifiers


def test_an_officer_of_every_region_changes_any_destination(client, roles):
    us = _destination("Ad platform US", ["US-CA"])
    client.force_login(make_staff("Privacy officer"))
    url = f"/admin/activation/destination/{us.pk}/change/"
    assert client.post(url, _form(us, clear_identifiers="on")).status_code == 302
    us.refresh_from_db()
    assert us.clear_identifiers


def test_the_audience_count_holds_only_the_officers_regions(client, roles):
    destination = _destination("Ad platform", None)
    for region in ("EU", "US-CA", "US-CA"):
        _record(make_subject(region=region), "sale_sharing", "granted")
    # The destination's members as its token's last sync left them (every region).
    audience_sync(
        who=Principal(user=destination.token.user, token=destination.token), destination=destination
    )
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    page = client.get("/admin/activation/destination/").content.decode()
    assert '<td class="field-audience_now">1</td>' in page
    client.force_login(make_staff("Privacy officer"))
    page = client.get("/admin/activation/destination/").content.decode()
    assert '<td class="field-audience_now">3</td>' in page
