"""A source writes into its regions with its signing secret: an officer limited to some regions
may neither give a source a region outside them nor edit, rotate (and so learn the secret of)
a source that writes outside them."""

from __future__ import annotations

import pytest

from activation.models import SourceEndpoint
from profiles.models import System
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def _form(system, regions):
    return {
        "system": system.pk,
        "format": "segment",
        "regions": regions,
        "rate": "600/min",
        "tolerance_seconds": 300,
        "active": "on",
        "mapping": "{}",
        "sample": "",
    }


def test_an_eu_officer_cannot_create_a_source_writing_californians(client, roles):
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    system = System.objects.create(name="Shop", kind=System.Kind.SOURCE)
    response = client.post("/admin/activation/sourceendpoint/add/", _form(system, '["US-CA"]'))
    assert response.status_code == 200
    assert "Outside your regions: US-CA." in response.content.decode()
    assert not SourceEndpoint.objects.exists()


def test_an_eu_officer_creates_an_eu_source(client, roles):
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    system = System.objects.create(name="Shop", kind=System.Kind.SOURCE)
    response = client.post("/admin/activation/sourceendpoint/add/", _form(system, '["eu"]'))
    assert response.status_code == 302
    assert SourceEndpoint.objects.get().regions == ["EU"]


def test_regions_must_be_known_codes(client, roles):
    client.force_login(make_staff("DPO"))
    system = System.objects.create(name="Shop", kind=System.Kind.SOURCE)
    for bad, message in (('["XX"]', "Unknown region: XX."), ('"EU"', "A list of region codes")):
        response = client.post("/admin/activation/sourceendpoint/add/", _form(system, bad))
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not SourceEndpoint.objects.exists()


@pytest.mark.parametrize(
    "regions",
    [
        pytest.param(["EU", "US-CA"], id="writing Californians"),
        pytest.param([], id="no region (made outside the admin): every region's to configure"),
    ],
)
def test_an_eu_officer_neither_sees_edits_nor_rotates_a_us_source(client, roles, regions):
    system = System.objects.create(name="US shop", kind=System.Kind.SOURCE)
    us_source = SourceEndpoint.objects.create(system=system, regions=regions)
    secret = us_source.secret
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    url = f"/admin/activation/sourceendpoint/{us_source.pk}/change/"
    assert client.get(url).status_code == 302  # the admin's "does not exist" redirect
    response = client.post(url, _form(system, '["EU"]'))
    assert response.status_code == 302
    us_source.refresh_from_db()
    assert us_source.regions == regions
    assert "US shop" not in client.get("/admin/activation/sourceendpoint/").content.decode()
    response = client.post(
        "/admin/activation/sourceendpoint/",
        {"action": "rotate_secret", "_selected_action": [str(us_source.pk)], "confirmed": "yes"},
        follow=True,
    )
    us_source.refresh_from_db()
    assert us_source.secret == secret
    assert secret not in response.content.decode()


def test_an_officer_of_every_region_still_edits_it(client, roles):
    system = System.objects.create(name="US shop", kind=System.Kind.SOURCE)
    us_source = SourceEndpoint.objects.create(system=system, regions=["US-CA"])
    client.force_login(make_staff("Privacy officer"))
    url = f"/admin/activation/sourceendpoint/{us_source.pk}/change/"
    assert client.get(url).status_code == 200
    assert client.post(url, _form(system, '["US-CA", "US-CO"]')).status_code == 302
    us_source.refresh_from_db()
    assert us_source.regions == ["US-CA", "US-CO"]


def test_an_eu_dpo_cannot_delete_a_us_source_by_deleting_its_system(client, roles):
    """Deleting a System deletes its source with it: Django asks the source admin, which
    refuses a source writing outside the officer's regions, even to an officer given the
    permission to delete sources."""
    from django.contrib.auth.models import Permission

    system = System.objects.create(name="US shop", kind=System.Kind.SOURCE)
    SourceEndpoint.objects.create(system=system, regions=["US-CA"])
    eu_dpo = make_staff("DPO", regions=["EU"])
    eu_dpo.user_permissions.add(Permission.objects.get(codename="delete_sourceendpoint"))
    client.force_login(eu_dpo)
    response = client.post(f"/admin/profiles/system/{system.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert SourceEndpoint.objects.filter(system=system).exists()
    client.force_login(make_staff("DPO", is_superuser=True))  # every region: may
    response = client.post(f"/admin/profiles/system/{system.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not System.objects.filter(pk=system.pk).exists()


@pytest.mark.parametrize("part", ["sourceendpoint", "destination"])
def test_an_eu_officer_cannot_hang_a_part_on_a_californian_system(client, roles, part):
    """A source or a destination widens the reach of the system it hangs on: an EU officer's
    EU source on a Californian system took that system out of the hands of the Californian
    officers (they no longer cover every region it reaches), a destination made it every
    region's. A system of every region or of their own regions takes one."""
    from activation.models import Destination
    from consent.models import Purpose

    kind = System.Kind.SOURCE if part == "sourceendpoint" else System.Kind.DESTINATION
    us = System.objects.create(name="US shop", kind=kind, scope_regions=["US-CA"])
    eu = System.objects.create(name="EU shop", kind=kind, scope_regions=["EU"])
    anywhere = System.objects.create(name="Shop", kind=kind)
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    url = f"/admin/activation/{part}/add/"
    page = client.get(url).content.decode()
    assert f'<option value="{us.pk}">US shop</option>' not in page
    assert f'<option value="{eu.pk}">EU shop</option>' in page
    assert f'<option value="{anywhere.pk}">Shop</option>' in page
    purpose = Purpose.objects.order_by("pk").first()
    data = (
        _form(us, '["EU"]')
        if part == "sourceendpoint"
        else {"system": us.pk, "purposes": [purpose.pk], "token": "", "push_webhook": ""}
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not SourceEndpoint.objects.exists()
    assert not Destination.objects.exists()
    client.force_login(make_staff("Privacy officer", regions=["US-CA"]))
    assert 'name="_save"' in client.get(f"/admin/profiles/system/{us.pk}/change/").content.decode()
