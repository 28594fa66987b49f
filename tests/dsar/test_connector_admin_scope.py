"""A connected system is sent the identifiers (e-mail, phone in clear) of every region's
requesters: only officers who see every region add, change or delete one. An EU-limited
officer could otherwise point a connector's URL at a server of their own and receive the
identifiers of every Californian who asks for their data."""

from __future__ import annotations

import pytest

from access.roles import DPO, PRIVACY_OFFICER
from dsar.models import SystemConnector
from profiles.models import System
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db

URL = "https://helpdesk.example/dsar"


@pytest.fixture
def connector(roles):
    return SystemConnector.objects.create(
        system=System.objects.create(name="Helpdesk"), webhook_url=URL
    )


def _form(connector: SystemConnector, **over) -> dict:
    return {
        "system": connector.system_id,
        "mode": "webhook",
        "webhook_url": connector.webhook_url,
        "handles": "[]",
        "instructions": "",
        "timeout_seconds": 10,
        "callback_timeout_hours": 72,
        "active": "on",
        **over,
    }


@pytest.mark.parametrize("role", [PRIVACY_OFFICER, DPO])
def test_an_officer_limited_to_some_regions_cannot_repoint_add_or_delete_a_connector(
    connector, role
):
    eu = signed_in(make_staff(role, regions=["EU"]))
    assert eu.get(f"/admin/dsar/systemconnector/{connector.pk}/change/").status_code == 200
    changed = eu.post(
        f"/admin/dsar/systemconnector/{connector.pk}/change/",
        _form(connector, webhook_url="https://collector.evil.example/"),
    )
    assert changed.status_code == 403
    connector.refresh_from_db()
    assert connector.webhook_url == URL

    other = System.objects.create(name="Newsletter")
    added = eu.post(
        "/admin/dsar/systemconnector/add/",
        _form(connector, system=other.pk, webhook_url="https://collector.evil.example/"),
    )
    assert added.status_code == 403
    assert not SystemConnector.objects.filter(system=other).exists()

    deleted = eu.post(f"/admin/dsar/systemconnector/{connector.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert SystemConnector.objects.filter(pk=connector.pk).exists()

    # The rotated secret is shown to whoever rotates it, and signs every region's callbacks.
    secret = connector.secret
    eu.post(
        "/admin/dsar/systemconnector/",
        {"action": "rotate_secret", "_selected_action": [connector.pk], "confirmed": "yes"},
    )
    connector.refresh_from_db()
    assert connector.secret == secret


def test_an_officer_of_every_region_repoints_a_connector(connector):
    officer = signed_in(make_staff(PRIVACY_OFFICER))
    r = officer.post(
        f"/admin/dsar/systemconnector/{connector.pk}/change/",
        _form(connector, webhook_url="https://helpdesk.example/v2/dsar"),
    )
    assert r.status_code == 302, r.content
    connector.refresh_from_db()
    assert connector.webhook_url == "https://helpdesk.example/v2/dsar"
