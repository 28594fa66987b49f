"""A request's free text is bounded whatever the channel: the description at 2,000
characters, the details in all at 8,000 as JSON; longer is a 400 `details_too_long` naming
the field (the privacy center's form says so in the visitor's language), never stored."""

from __future__ import annotations

import pytest

from consent.models import ConsentProperty
from dsar.models import DataSubjectRequest
from dsar.services import DESCRIPTION_MAX_CHARS, DETAILS_MAX_CHARS
from tests.factories import make_staff, make_subject, make_token, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def center(api):
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_test_limits")
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    return api


def _intake(api, details: dict):
    body = {"kind": "access", "email": "ana@example.com", "region": "EU", "details": details}
    return api.post("/api/v1/dsar/intake/", body, format="json")


def test_a_description_of_the_maximum_length_is_accepted(center):
    response = _intake(center, {"description": "x" * DESCRIPTION_MAX_CHARS})
    assert response.status_code == 202, response.content


def test_a_longer_description_is_refused_with_its_own_code(center):
    response = _intake(center, {"description": "x" * (DESCRIPTION_MAX_CHARS + 1)})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "details_too_long"
    assert "2,000" in error["message"]
    assert list(error["fields"]) == ["details.description"]
    assert not DataSubjectRequest.objects.exists()


def test_details_too_long_in_all_are_refused(center):
    response = _intake(center, {"notes": ["y" * 1000] * 9})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "details_too_long"
    assert response.json()["error"]["fields"] == {
        "details": [f"at most {DETAILS_MAX_CHARS} characters as JSON"]
    }
    assert not DataSubjectRequest.objects.exists()


def test_a_service_account_request_is_bounded_the_same_way(api, roles):
    subject = make_subject(region="EU")
    _, raw = make_token(["dsar:manage", "dsar:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.post(
        "/api/v1/dsar/requests/",
        {"kind": "access", "subject_id": str(subject.pk), "details": {"description": "z" * 2001}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "details_too_long"


def test_the_admin_intake_form_bounds_the_description(roles):
    client = signed_in(make_staff("Privacy officer", regions=["EU"]))
    make_subject(region="EU", email="caller@example.com")
    page = client.get("/admin/dsar/datasubjectrequest/add/").content.decode()
    assert f'maxlength="{DESCRIPTION_MAX_CHARS}"' in page
    response = client.post(
        "/admin/dsar/datasubjectrequest/add/",
        {
            "kind": "access",
            "subject": "caller@example.com",
            "description": "w" * (DESCRIPTION_MAX_CHARS + 1),
            "attestation": "on",
        },
    )
    assert response.status_code == 200
    assert "at most 2000 characters" in response.content.decode()
    assert not DataSubjectRequest.objects.exists()


def test_the_privacy_center_form_holds_the_same_limit_and_words_the_error(client):
    ConsentProperty.objects.create(name="Shop", publishable_key="pk_test_form")
    page = client.get("/privacy-center/", {"key": "pk_test_form", "lang": "de"}).content.decode()
    assert f'name="description" maxlength="{DESCRIPTION_MAX_CHARS}"' in page
    assert "Höchstens 2.000 Zeichen." in page
    assert 'data-error-details_too_long="Ihre Nachricht ist zu lang' in page
