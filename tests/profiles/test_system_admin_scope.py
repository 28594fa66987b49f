"""A system (an entry of the data map) reaches the regions of its parts: its source endpoint's
regions, its processing activities' regions; a destination, a DSAR connector or a connected
store sends or erases people of every region, and a system with no part is an entry of every
region's Art. 30 record. An officer limited to some regions changes or deletes a system only
when every region it reaches is theirs; every officer still sees the whole data map."""

from __future__ import annotations

import pytest

from access.roles import DPO
from activation.models import Destination, SourceEndpoint
from consent.models import ProcessingActivity, Purpose
from dsar.models import SystemConnector
from profiles.admin import system_regions
from profiles.models import System
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def eu(roles):
    return signed_in(make_staff(DPO, regions=["EU"]))


def _form(system: System, **over) -> dict:
    data = {"name": system.name, "kind": system.kind, "data_categories": "[]", "datasets": "[]"}
    return {**data, **over}


def _system(name: str, source_regions: list[str] | None = None) -> System:
    system = System.objects.create(name=name, kind=System.Kind.SOURCE)
    if source_regions is not None:
        SourceEndpoint.objects.create(system=system, regions=source_regions)
    return system


def test_a_limited_officer_changes_a_system_whose_parts_are_all_in_their_regions(eu):
    shop = _system("EU shop", ["EU"])
    r = eu.post(f"/admin/profiles/system/{shop.pk}/change/", _form(shop, owner_contact="web"))
    assert r.status_code == 302, r.content.decode()[:2000]
    shop.refresh_from_db()
    assert shop.owner_contact == "web"


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: _system("US shop", ["US-CA"]), id="source writing abroad"),
        pytest.param(lambda: _system("EU+US shop", ["EU", "US-CA"]), id="source of two regions"),
        pytest.param(lambda: _system("Bare entry"), id="no part: every region's data map"),
        pytest.param(
            lambda: Destination.objects.create(system=_system("Ads", ["EU"])).system,
            id="destination of every region",
        ),
        pytest.param(
            lambda: SystemConnector.objects.create(system=_system("ERP", ["EU"])).system,
            id="DSAR connector of every region",
        ),
    ],
)
def test_a_limited_officer_cannot_change_or_delete_a_system_reaching_other_regions(eu, build):
    system = build()
    r = eu.post(f"/admin/profiles/system/{system.pk}/change/", _form(system, owner_contact="x"))
    assert r.status_code == 403
    system.refresh_from_db()
    assert system.owner_contact == ""
    assert (
        eu.post(f"/admin/profiles/system/{system.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert System.objects.filter(pk=system.pk).exists()
    assert system.name in eu.get("/admin/profiles/system/").content.decode()  # still on the map


def test_a_processing_activity_of_another_region_extends_the_systems_reach(eu):
    shop = _system("EU shop", ["EU"])
    activity = ProcessingActivity.objects.create(
        name="Loyalty", purpose=Purpose.objects.create(slug="loyalty", name="Loyalty"), regions=[]
    )
    activity.systems.add(shop)
    assert system_regions(shop) is None
    activity.regions = ["EU", "GB"]
    activity.save()
    assert system_regions(shop) == ["EU", "GB"]
    r = eu.post(f"/admin/profiles/system/{shop.pk}/change/", _form(shop, owner_contact="x"))
    assert r.status_code == 403


def test_an_officer_of_every_region_changes_any_system(roles):
    bare = _system("Bare entry")
    client = signed_in(make_staff(DPO))
    r = client.post(f"/admin/profiles/system/{bare.pk}/change/", _form(bare, owner_contact="it"))
    assert r.status_code == 302
    assert (
        client.post(f"/admin/profiles/system/{bare.pk}/delete/", {"post": "yes"}).status_code == 302
    )
    assert not System.objects.filter(pk=bare.pk).exists()
