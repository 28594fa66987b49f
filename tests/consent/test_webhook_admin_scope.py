"""A consent webhook is sent every region's consent changes (subject and visitor ids, purpose,
state), or a destination's audience pushes: only officers who see every region add, change or
delete one. The outbox's rows are already theirs only; an EU-limited officer could otherwise
add a webhook of their own and receive the same payloads, or repoint the push webhook of a
Californian destination they may not change."""

from __future__ import annotations

import pytest

from access.roles import DPO, PRIVACY_OFFICER
from consent.models import ConsentWebhook
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db

URL = "https://crm.example/consent"


@pytest.fixture
def webhook(roles):
    return ConsentWebhook.objects.create(
        name="CRM push", url=URL, secret="s" * 32, consent_changes=False
    )


def _form(webhook: ConsentWebhook, **over) -> dict:
    data = {"name": webhook.name, "url": webhook.url, "secret": webhook.secret, "active": "on"}
    return {**data, **over}


@pytest.mark.parametrize("role", [PRIVACY_OFFICER, DPO])
def test_an_officer_limited_to_some_regions_cannot_add_repoint_or_delete_a_webhook(webhook, role):
    eu = signed_in(make_staff(role, regions=["EU"]))
    assert eu.get(f"/admin/consent/consentwebhook/{webhook.pk}/change/").status_code == 200
    added = eu.post(
        "/admin/consent/consentwebhook/add/",
        _form(webhook, name="Mine", url="https://collector.evil.example/", consent_changes="on"),
    )
    assert added.status_code == 403
    assert not ConsentWebhook.objects.filter(name="Mine").exists()

    changed = eu.post(
        f"/admin/consent/consentwebhook/{webhook.pk}/change/",
        _form(webhook, url="https://collector.evil.example/"),
    )
    assert changed.status_code == 403
    webhook.refresh_from_db()
    assert webhook.url == URL

    deleted = eu.post(f"/admin/consent/consentwebhook/{webhook.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert ConsentWebhook.objects.filter(pk=webhook.pk).exists()


def test_an_officer_of_every_region_adds_a_webhook(webhook):
    officer = signed_in(make_staff(PRIVACY_OFFICER))
    r = officer.post(
        "/admin/consent/consentwebhook/add/",
        _form(webhook, name="Warehouse", url="https://warehouse.example/", consent_changes="on"),
    )
    assert r.status_code == 302, r.content
    assert ConsentWebhook.objects.get(name="Warehouse").url == "https://warehouse.example/"
