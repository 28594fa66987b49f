"""Masking by role; unmasking needs a reason, is audited and expires; shares for one case."""

import pytest
from django.utils import timezone

from access.masking import mask_email, mask_phone
from access.models import UnmaskGrant
from access.scoping import actor_for_user
from audit.actors import Actor
from audit.models import AuditEvent
from profiles.services import subject_share
from tests.factories import make_staff, make_subject

pytestmark = pytest.mark.django_db


def test_masks_keep_just_enough_to_recognise():
    assert mask_email("jane.doe@example.com") == "j***@e***.com"
    assert mask_phone("+33 6 12 34 56 12") == "+33 6 ** ** ** 12"


def test_support_agent_sees_masked_values_and_no_sensitive_attributes(api, roles):
    subject = make_subject(
        region="EU", email="jane.doe@example.com", name="Jane Doe", health="asthma"
    )
    api.force_authenticate(make_staff("Support agent", regions=["EU"]))
    body = api.get(f"/api/v1/profiles/subjects/{subject.pk}/").json()
    assert body["masked"] is True
    assert body["identifiers"][0]["value"] == "j***@e***.com"
    assert "health" not in {a["key"] for a in body["attributes"]}
    assert "jane" not in str(body).lower()


def test_unmasking_needs_a_reason_is_audited_and_expires(api, roles):
    subject = make_subject(region="EU", email="kim@example.com")
    officer = make_staff("Privacy officer", regions=["EU"])
    agent = make_staff("Support agent", regions=["EU"])
    api.force_authenticate(agent)
    refused = api.post(
        "/api/v1/access/unmask/",
        {"subject": str(subject.pk), "reason": "customer called in about order"},
        format="json",
    )
    assert refused.status_code == 403
    subject_share(
        subject=subject,
        user=agent,
        actor=actor_for_user(officer),
        reason="ticket 4711 refund dispute",
    )
    no_reason = api.post(
        "/api/v1/access/unmask/", {"subject": str(subject.pk), "reason": "x"}, format="json"
    )
    assert no_reason.json()["error"]["code"] == "reason_required"
    granted = api.post(
        "/api/v1/access/unmask/",
        {"subject": str(subject.pk), "reason": "ticket 4711 refund dispute", "minutes": 5},
        format="json",
    )
    assert granted.status_code == 201
    assert (
        api.get(f"/api/v1/profiles/subjects/{subject.pk}/").json()["identifiers"][0]["value"]
        == "kim@example.com"
    )
    event = AuditEvent.objects.get(action="access.subject.unmask")
    assert event.reason == "ticket 4711 refund dispute"
    assert event.subject_id == subject.pk
    UnmaskGrant.objects.update(expires_at=timezone.now())
    assert api.get(f"/api/v1/profiles/subjects/{subject.pk}/").json()["masked"] is True


def test_auditor_can_never_unmask(api, roles):
    subject = make_subject(region="EU")
    api.force_authenticate(make_staff("Auditor"))
    response = api.post(
        "/api/v1/access/unmask/",
        {"subject": str(subject.pk), "reason": "curious about this person"},
        format="json",
    )
    assert response.status_code == 403


def test_a_subject_shared_for_a_case_is_visible_outside_the_agents_regions(api, roles):
    californian = make_subject(region="US-CA")
    agent = make_staff("Support agent", regions=["EU"])
    api.force_authenticate(agent)
    assert api.get(f"/api/v1/profiles/subjects/{californian.pk}/").status_code == 404
    subject_share(
        subject=californian,
        user=agent,
        actor=Actor.system("tests"),
        reason="escalated case 99",
        days=1,
    )
    assert api.get(f"/api/v1/profiles/subjects/{californian.pk}/").status_code == 200
    assert agent.has_perm("profiles.view_subject", californian)  # guardian sees the same grant


def test_the_admin_shows_an_auditor_the_unmask_grants_of_their_regions_only(client, roles):
    """A grant carries its subject's id and the officer's reason, which may name the person's
    case: an EU auditor neither lists nor opens by id the grant of a Californian."""
    from access.services import unmask_grant_create

    dpo = make_staff("DPO")
    grants = {
        region: unmask_grant_create(
            user=dpo,
            subject=make_subject(region=region),
            reason=f"ticket about the {region} customer's refund",
            actor=actor_for_user(dpo),
        )
        for region in ("EU", "US-CA")
    }
    client.force_login(make_staff("Auditor", regions=["EU"]))
    listed = list(client.get("/admin/access/unmaskgrant/").context["cl"].result_list)
    assert listed == [grants["EU"]]
    assert client.get(f"/admin/access/unmaskgrant/{grants['EU'].pk}/change/").status_code == 200
    opened = client.get(f"/admin/access/unmaskgrant/{grants['US-CA'].pk}/change/")
    assert opened.status_code == 404
    assert b"US-CA customer" not in opened.content


def test_an_all_region_auditor_sees_every_unmask_grant(client, roles):
    from access.services import unmask_grant_create

    dpo = make_staff("DPO")
    for region in ("EU", "US-CA"):
        unmask_grant_create(
            user=dpo,
            subject=make_subject(region=region),
            reason="ticket about a customer's refund",
            actor=actor_for_user(dpo),
        )
    client.force_login(make_staff("Auditor"))
    assert len(client.get("/admin/access/unmaskgrant/").context["cl"].result_list) == 2
