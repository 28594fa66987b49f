"""A system (an entry of the data map) reaches the regions of whoever added it and of its
parts: its source endpoint's regions, its processing activities' regions; a destination, a DSAR
connector or a connected store sends or erases people of every region, and a system with no
part is an entry of every region's Art. 30 record. An officer limited to some regions changes or deletes a system only
when every region it reaches is theirs; every officer still sees the whole data map."""

from __future__ import annotations

import re

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
    data = {
        "name": system.name,
        "kind": system.kind,
        "data_categories": "[]",
        "datasets": "[]",
        "scope_regions": system.scope_regions or [],
    }
    return {**data, **over}


def _everywhere(name: str) -> System:
    """A system of every region (added by staff of every region, or by a service)."""
    return System.objects.create(name=name, kind=System.Kind.SOURCE)


def _system(name: str, source_regions: list[str] | None = None) -> System:
    """A system an EU officer added (`scope_regions`), with a source writing `source_regions`."""
    system = System.objects.create(name=name, kind=System.Kind.SOURCE, scope_regions=["EU"])
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
        pytest.param(lambda: _everywhere("Bare entry"), id="every region's data map"),
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
    bare = _everywhere("Bare entry")
    client = signed_in(make_staff(DPO))
    r = client.post(f"/admin/profiles/system/{bare.pk}/change/", _form(bare, owner_contact="it"))
    assert r.status_code == 302
    assert (
        client.post(f"/admin/profiles/system/{bare.pk}/delete/", {"post": "yes"}).status_code == 302
    )
    assert not System.objects.filter(pk=bare.pk).exists()


def _activity_form(system: System, **over) -> dict:
    data = {
        "name": "EU loyalty",
        "purpose": Purpose.objects.get_or_create(slug="loyalty", defaults={"name": "Loyalty"})[
            0
        ].pk,
        "lawful_basis": "consent",
        "active": "on",
        "regions": ["EU"],
        "systems": [system.pk],
        "transfers": "[]",
    }
    return {**data, **over}


def _source_form(system: System) -> dict:
    return {
        "system": system.pk,
        "format": "segment",
        "regions": '["EU"]',
        "rate": "600/min",
        "tolerance_seconds": 300,
        "active": "on",
        "mapping": "{}",
        "sample": "",
    }


@pytest.mark.parametrize(
    "give_part",
    [
        pytest.param(
            lambda client, crm: client.post(
                "/admin/consent/processingactivity/add/", _activity_form(crm)
            ),
            id="an EU activity naming it",
        ),
        pytest.param(
            lambda client, crm: client.post(
                "/admin/activation/sourceendpoint/add/", _source_form(crm)
            ),
            id="an EU source endpoint on it",
        ),
    ],
)
def test_a_limited_officer_cannot_take_over_a_system_of_every_region_by_giving_it_a_part(
    roles, eu, give_part
):
    """A system staff of every region added reaches every region whatever parts an officer
    of fewer regions gives it: an EU part narrows it to no EU officer's property."""
    everywhere = signed_in(make_staff(DPO))
    r = everywhere.post("/admin/profiles/system/add/", _form(System(name="CRM", kind="source")))
    assert r.status_code == 302, r.content.decode()[:2000]
    crm = System.objects.get(name="CRM")
    assert give_part(eu, crm).status_code == 302  # the part itself is the officer's to add
    assert system_regions(crm) is None
    r = eu.post(f"/admin/profiles/system/{crm.pk}/change/", _form(crm, owner_contact="x"))
    assert r.status_code == 403
    assert eu.post(f"/admin/profiles/system/{crm.pk}/delete/", {"post": "yes"}).status_code == 403
    crm.refresh_from_db()
    assert crm.owner_contact == ""


def test_a_limited_officer_adds_a_system_of_their_regions_and_keeps_changing_it(roles, eu):
    page = eu.get("/admin/profiles/system/add/").content.decode()
    assert re.search(r'<input [^>]*value="EU"[^>]*checked', page)  # ticked for them
    r = eu.post("/admin/profiles/system/add/", _form(System(name="EU shop", kind="source")))
    assert r.status_code == 200  # none ticked: every region is not theirs to choose
    assert "outside your regions" in r.content.decode()
    r = eu.post(
        "/admin/profiles/system/add/",
        _form(System(name="EU shop", kind="source"), scope_regions=["EU", "US-CA"]),
    )
    assert "Outside your regions: US-CA" in r.content.decode()
    assert not System.objects.filter(name="EU shop").exists()
    r = eu.post(
        "/admin/profiles/system/add/",
        _form(System(name="EU shop", kind="source"), scope_regions=["EU"]),
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    shop = System.objects.get(name="EU shop")
    assert system_regions(shop) == ["EU"]
    assert eu.post("/admin/activation/sourceendpoint/add/", _source_form(shop)).status_code == 302
    assert system_regions(shop) == ["EU"]
    r = eu.post(f"/admin/profiles/system/{shop.pk}/change/", _form(shop, owner_contact="web"))
    assert r.status_code == 302, r.content.decode()[:2000]
    shop.refresh_from_db()
    assert shop.owner_contact == "web"
    r = eu.post(
        f"/admin/profiles/system/{shop.pk}/change/", _form(shop, scope_regions=["EU", "GB"])
    )
    assert "Outside your regions: GB" in r.content.decode()
    shop.refresh_from_db()
    assert shop.scope_regions == ["EU"]


def test_staff_of_every_region_hand_a_system_to_one_region(roles, eu):
    crm = _everywhere("CRM")
    everywhere = signed_in(make_staff(DPO))
    r = everywhere.post(
        f"/admin/profiles/system/{crm.pk}/change/", _form(crm, scope_regions=["EU"])
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    crm.refresh_from_db()
    assert system_regions(crm) == ["EU"]
    r = eu.post(f"/admin/profiles/system/{crm.pk}/change/", _form(crm, owner_contact="crm team"))
    assert r.status_code == 302, r.content.decode()[:2000]


def _from(system: System, region: str) -> None:
    """A subject of `region` whose identifier, attribute and event came from `system` (through
    the ingestion service, as a source's data arrives)."""
    from audit.actors import Actor
    from profiles.services import subject_upsert

    record = {
        "region": region,
        "identifiers": [{"kind": "customer_id", "value": f"C-{region}"}],
        "attributes": {"city": "Lyon"},
        "events": [{"name": "signup", "payload": {}}],
    }
    subject_upsert(record=record, actor=Actor.system("tests"), source=system)


def test_a_limited_officer_cannot_clear_the_source_of_another_regions_data_by_deleting(eu):
    """Deleting a system sets the source of the rows that came from it to nothing: an EU
    officer's EU system that fed Californians' records is not theirs to delete, by the delete
    page or the list's bulk delete; its rows keep their source."""
    from profiles.models import Identifier

    shop = _system("EU shop")  # no source endpoint: one the DPO could not delete
    _from(shop, "EU")
    _from(shop, "US-CA")
    page = eu.get(f"/admin/profiles/system/{shop.pk}/delete/").content.decode()
    assert "the source of data of other regions" in page
    assert eu.post(f"/admin/profiles/system/{shop.pk}/delete/", {"post": "yes"}).status_code == 403
    r = eu.post(
        "/admin/profiles/system/",
        {"action": "delete_selected", "_selected_action": [shop.pk], "post": "yes"},
    )
    assert r.status_code == 403
    assert System.objects.filter(pk=shop.pk).exists()
    assert Identifier.objects.filter(source=shop, region="US-CA").exists()


def test_a_limited_officer_deletes_a_system_whose_data_is_all_in_their_regions(eu):
    from profiles.models import Identifier

    shop = _system("EU shop")  # no source endpoint: one the DPO could not delete
    _from(shop, "EU")
    assert eu.post(f"/admin/profiles/system/{shop.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not System.objects.filter(pk=shop.pk).exists()
    assert Identifier.objects.get(region="EU").source is None
