"""Whoever holds a property's identity secret links banner visitors to the subjects of the
property's identity regions and records consent for them. An officer limited to some regions
therefore changes, deletes or rotates only properties whose regions are all theirs, and gives a
property no region outside them: an EU-limited officer could rotate a Californian shop's secret
(shown to them once), or add a property reaching US-CA, and then sign assertions that record
consent for any Californian customer."""

from __future__ import annotations

import pytest
from django.test import Client

from access.roles import DPO, PRIVACY_OFFICER
from consent.models import ConsentProperty, Purpose
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db

CA_SECRET = "ca-shop-identity-secret-0123456789abcdef"


@pytest.fixture
def ca_shop(roles):
    return ConsentProperty.objects.create(
        name="CA shop",
        allowed_origins=["https://ca.shop.example"],
        default_region="US-CA",
        identity_secret=CA_SECRET,
    )


def _form(prop: ConsentProperty | None = None, **over) -> dict:
    purpose, _ = Purpose.objects.get_or_create(
        slug="analytics", defaults={"name": "Analytics", "description": "Site statistics"}
    )
    data = {
        "purposes": [purpose.pk],
        "name": prop.name if prop else "New shop",
        "publishable_key": prop.publishable_key if prop else "pk_test_new_shop_0001",
        "allowed_origins": '["https://shop.example"]',
        "default_region": prop.default_region if prop else "EU",
        "default_language": "en",
        "identity_regions": "[]",
        "active": "on",
        "mappings-TOTAL_FORMS": "0",
        "mappings-INITIAL_FORMS": "0",
    }
    return {**data, **over}


def _inline_prefix(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    marker = '-TOTAL_FORMS"'
    at = page.index(marker)
    return page[page.rindex('name="', 0, at) + 6 : at]


def _post(client: Client, url: str, data: dict):
    prefix = _inline_prefix(client, url) if client.get(url).status_code == 200 else "mappings"
    body = {k.replace("mappings-", f"{prefix}-"): v for k, v in data.items()}
    return client.post(url, body)


@pytest.mark.parametrize("role", [PRIVACY_OFFICER, DPO])
def test_a_limited_officer_cannot_rotate_the_secret_of_a_property_reaching_another_region(
    ca_shop, role
):
    eu = signed_in(make_staff(role, regions=["EU"]))
    r = eu.post(
        "/admin/consent/consentproperty/",
        {"action": "rotate_identity_secret", "_selected_action": [ca_shop.pk], "confirmed": "yes"},
        follow=True,
    )
    ca_shop.refresh_from_db()
    assert ca_shop.identity_secret == CA_SECRET
    assert "Not rotated" in r.content.decode()


def test_a_limited_officer_cannot_change_or_delete_a_property_reaching_another_region(ca_shop):
    eu = signed_in(make_staff(DPO, regions=["EU"]))
    url = f"/admin/consent/consentproperty/{ca_shop.pk}/change/"
    assert eu.get(url).status_code == 200  # viewed, read-only
    changed = _post(eu, url, _form(ca_shop, default_region="EU"))
    assert changed.status_code == 403
    ca_shop.refresh_from_db()
    assert ca_shop.default_region == "US-CA"
    deleted = eu.post(f"/admin/consent/consentproperty/{ca_shop.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert ConsentProperty.objects.filter(pk=ca_shop.pk).exists()


def test_a_limited_officer_gives_a_property_no_region_outside_theirs(roles):
    eu = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    add = "/admin/consent/consentproperty/add/"
    r = _post(eu, add, _form(identity_regions='["EU", "US-CA"]'))
    assert r.status_code == 200
    assert "Outside your regions: US-CA." in r.content.decode()
    r = _post(eu, add, _form(default_region="US-CA"))
    assert r.status_code == 200
    assert "Outside your regions: US-CA." in r.content.decode()
    assert not ConsentProperty.objects.exists()

    r = _post(eu, add, _form(identity_regions='["eu"]'))
    assert r.status_code == 302, r.content
    prop = ConsentProperty.objects.get()
    assert (prop.default_region, prop.identity_regions) == ("EU", ["EU"])

    # Their own property stays theirs to change, but not to widen.
    url = f"/admin/consent/consentproperty/{prop.pk}/change/"
    r = _post(eu, url, _form(prop, identity_regions='["EU", "US-CA"]'))
    assert r.status_code == 200
    assert "Outside your regions: US-CA." in r.content.decode()
    r = _post(eu, url, _form(prop, allowed_origins='["https://eu.shop.example"]'))
    assert r.status_code == 302, r.content
    prop.refresh_from_db()
    assert prop.allowed_origins == ["https://eu.shop.example"]
    assert prop.identity_regions == []


def test_regions_are_known_codes_kept_upper_case(roles):
    officer = signed_in(make_staff(DPO))
    add = "/admin/consent/consentproperty/add/"
    r = _post(officer, add, _form(identity_regions='"EU"'))
    assert r.status_code == 200
    assert "A list of region codes" in r.content.decode()
    r = _post(officer, add, _form(default_region="Mars"))
    assert "Unknown region: MARS." in r.content.decode()
    r = _post(officer, add, _form(default_region="us-ca", identity_regions='["us-ca", "EU"]'))
    assert r.status_code == 302, r.content
    prop = ConsentProperty.objects.get()
    assert (prop.default_region, prop.identity_regions) == ("US-CA", ["EU", "US-CA"])
