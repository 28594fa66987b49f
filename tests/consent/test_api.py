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


@pytest.mark.parametrize("state", ["granted", None])
def test_a_decision_answers_the_same_on_its_lean_path_as_through_drf(reader, monkeypatch, state):
    """The common call skips DRF's dispatch (DecisionView.dispatch): same status, headers and
    body as DRF's own answer to it."""
    from consent.api.views import DecisionView

    subject = make_subject(region="EU")
    if state:
        consent_record(
            purpose=Purpose.objects.get(slug="analytics"),
            state=state,
            channel="api",
            actor=SYSTEM,
            subject=subject,
        )
    params = {"subject": str(subject.pk), "purpose": "analytics"}
    lean = reader.get("/api/v1/consent/decision/", params)
    monkeypatch.setattr(DecisionView, "token_admitted", lambda self, request: False)
    full = reader.get("/api/v1/consent/decision/", params)
    assert lean.status_code == full.status_code == 200
    assert not hasattr(lean, "data")  # the lean path answered this one
    assert hasattr(full, "data")
    for header in ("Content-Type", "Allow", "Vary", "Content-Length", "X-Frame-Options"):
        assert lean.get(header) == full.get(header), header
    lean_body, full_body = lean.json(), full.json()
    assert lean_body.pop("at")
    assert full_body.pop("at")
    assert lean_body == full_body


def test_a_decision_asked_as_html_is_answered_by_drf(reader):
    subject = make_subject(region="EU")
    params = {"subject": str(subject.pk), "purpose": "analytics"}
    response = reader.get("/api/v1/consent/decision/", params, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert hasattr(response, "data")  # the browsable API: DRF's path


@pytest.mark.parametrize("header", ["Bearer cst_forged_token", "Basic eDp5", "Bearer "])
def test_a_decision_with_a_bad_token_is_refused_by_drf(api, header):
    subject = make_subject(region="EU")
    response = api.get(
        "/api/v1/consent/decision/",
        {"subject": str(subject.pk), "purpose": "analytics"},
        HTTP_AUTHORIZATION=header,
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"authentication_failed", "not_authenticated"}


def test_a_token_without_the_consent_scope_is_refused_on_the_lean_path_too(api):
    _, raw = make_token(["profiles:read"])
    subject = make_subject(region="EU")
    response = api.get(
        "/api/v1/consent/decision/",
        {"subject": str(subject.pk), "purpose": "analytics"},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 403


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
