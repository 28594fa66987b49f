"""Consent API for systems: decisions (single, bulk, point in time), writes, receipts."""

import pytest

from audit.actors import Actor
from consent.models import Purpose
from consent.services import consent_record
from tests.factories import make_subject, make_token

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


@pytest.fixture
def reader(api):
    _, raw = make_token(["consent:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def test_decision_endpoint_gives_allowed_and_reason(reader):
    subject = make_subject(region="EU")
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
    )
    body = reader.get(
        "/api/v1/consent/decision/", {"subject": str(subject.pk), "purpose": "analytics"}
    ).json()
    assert (body["allowed"], body["reason"], body["jurisdiction"]) == (
        True,
        "explicit_grant",
        "GDPR",
    )


def test_unknown_purpose_is_a_404_with_its_own_code(reader):
    subject = make_subject()
    response = reader.get(
        "/api/v1/consent/decision/", {"subject": str(subject.pk), "purpose": "nope"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_purpose"


def test_bulk_decisions_for_an_activation_job(reader):
    eu, ca = make_subject(region="EU"), make_subject(region="US-CA")
    body = reader.post(
        "/api/v1/consent/decisions/bulk/",
        {
            "subjects": [str(eu.pk), str(ca.pk), "00000000-0000-0000-0000-000000000000"],
            "purposes": ["sale_sharing", "essential"],
        },
        format="json",
    ).json()
    assert body["decisions"][str(eu.pk)]["sale_sharing"]["allowed"] is False
    assert body["decisions"][str(ca.pk)]["sale_sharing"]["reason"] == "regime_default"
    assert body["decisions"][str(ca.pk)]["essential"]["allowed"] is True
    assert body["not_found"] == ["00000000-0000-0000-0000-000000000000"]


def test_a_service_records_consent_with_its_token_and_gets_a_receipt(api, roles):
    subject = make_subject(region="BR")
    _, raw = make_token(["consent:write", "consent:read", "profiles:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    created = api.post(
        "/api/v1/consent/records/",
        {
            "subject": str(subject.pk),
            "purpose": "marketing_email",
            "state": "granted",
            "idempotency_key": "crm-1",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    receipt = api.get(f"/api/v1/consent/records/{created.json()['id']}/receipt/").json()
    assert receipt["jurisdiction"] == "LGPD"
    assert receipt["processing"][0]["purpose"] == "marketing_email"
    assert receipt["event"]["state"] == "granted"
    assert receipt["consentReceiptID"] == created.json()["hash"]


def test_a_read_only_token_cannot_write_consent(reader):
    subject = make_subject()
    response = reader.post(
        "/api/v1/consent/records/",
        {"subject": str(subject.pk), "purpose": "analytics", "state": "granted"},
        format="json",
    )
    assert response.status_code == 403
