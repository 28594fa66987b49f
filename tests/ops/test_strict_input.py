"""The API accepts what its schema says and nothing else: text is a JSON string, an integer a
JSON number, a boolean true or false, and a query parameter the schema declares is validated
even when empty (issue 13, finding 12). Each refusal is 400 `invalid` naming the field."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache

from access.roles import DPO
from audit.actors import Actor
from consent.models import ConsentProperty, Purpose
from core import webhooks
from dsar.models import SystemConnector, SystemTask
from dsar.services import request_create
from profiles.models import System
from tests.factories import make_staff, make_subject

pytestmark = pytest.mark.django_db
KEY = "pk_test_strict"
SECRET = "s3cret"
SUBJECT = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def dpo(api, roles, regimes):
    """A DPO signed in (all permissions, all regions), the public property key, a request and
    a connected system's task on it."""
    prop = ConsentProperty.objects.create(name="Shop", publishable_key=KEY, allowed_origins=[])
    prop.purposes.set(Purpose.objects.all())
    cache.clear()
    user = make_staff(DPO)
    api.force_login(user)
    dsr, _ = request_create(
        kind="access",
        channel="api",
        actor=Actor.system("tests"),
        subject=make_subject(region="EU"),
        verification="service",
    )
    connector = SystemConnector.objects.create(
        system=System.objects.create(name="Helpdesk"), webhook_url="http://x", secret=SECRET
    )
    task = SystemTask.objects.create(request=dsr, connector=connector)
    api.ids = {"user": user.pk, "dsr": dsr.pk, "task": task.pk}
    return api


def _post(api, url: str, body: dict):
    raw = json.dumps(body).encode()
    return api.generic(
        "POST",
        url.format(**api.ids),
        raw,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=webhooks.sign(SECRET, raw),
    )


def _assert_field_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error


# --- the cases the schema fuzzer found ------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/audit/events/", "/api/v1/audit/events.csv"])
@pytest.mark.parametrize("value", ["", "not-a-uuid"])
def test_an_empty_or_malformed_subject_filter_on_the_audit_log_is_refused(dpo, url, value):
    _assert_field_refused(dpo.get(url, {"subject": value}), "subject")


def test_a_number_for_the_region_of_a_privacy_center_intake_is_refused(dpo):
    body = {"kind": "access", "email": "ana@example.com", "region": 0}
    _assert_field_refused(_post(dpo, f"/api/v1/dsar/intake/?key={KEY}", body), "region")


def test_a_number_for_the_region_of_a_request_opened_by_a_service_is_refused(dpo):
    body = {"kind": "access", "email": "ana@example.com", "region": 0}
    _assert_field_refused(_post(dpo, "/api/v1/dsar/requests/", body), "region")


def test_a_number_for_the_reason_of_a_refusal_is_refused(dpo):
    _assert_field_refused(_post(dpo, "/api/v1/dsar/requests/{dsr}/deny/", {"reason": 0}), "reason")


# --- every JSON endpoint with a text field ---------------------------------------------------

TEXT_FIELDS = [
    ("/api/v1/access/tokens/", {"user": "{user}", "scopes": ["audit:read"]}, "name"),
    ("/api/v1/access/unmask/", {"subject": SUBJECT}, "reason"),
    ("/api/v1/profiles/subjects/upsert/", {"identifiers": [{}]}, "region"),
    ("/api/v1/profiles/subjects/batch/", {"records": [{}]}, "idempotency_key"),
    ("/api/v1/profiles/subjects/search/", {"kind": "email"}, "value"),
    ("/api/v1/consent/decisions/bulk/", {"subjects": [SUBJECT]}, "purposes"),
    ("/api/v1/consent/records/", {"subject": SUBJECT, "state": "granted"}, "purpose"),
    ("/api/v1/consent/records/", {"subject": SUBJECT, "purpose": "ads"}, "idempotency_key"),
    ("/api/v1/consent/records/", {"subject": SUBJECT, "purpose": "ads"}, "tc_string"),
    ("/api/v1/consent/tcf/decode/", {}, "tc_string"),
    ("/api/v1/consent/gpp/decode/", {}, "gpp_string"),
    (f"/api/v1/consent/public/consents/?key={KEY}", {"choices": {}}, "visitor_id"),
    (f"/api/v1/consent/public/consents/?key={KEY}", {"choices": {}}, "region"),
    (f"/api/v1/consent/public/consents/?key={KEY}", {"choices": {}}, "tc_string"),
    (f"/api/v1/dsar/intake/?key={KEY}", {"kind": "access"}, "email"),
    (f"/api/v1/dsar/intake/confirm/?key={KEY}", {"code": "123456"}, "reference"),
    (f"/api/v1/dsar/intake/confirm/?key={KEY}", {"reference": "DSR-ABCDEFGHJK"}, "code"),
    ("/api/v1/dsar/requests/", {"kind": "access"}, "email"),
    ("/api/v1/dsar/requests/{dsr}/approve/", {}, "reason"),
    ("/api/v1/dsar/requests/{dsr}/extend/", {}, "reason"),
    ("/api/v1/dsar/callbacks/{task}/", {"status": "done"}, "evidence"),
]


# Numbers that, turned into text as DRF did, would pass the field's pattern.
NUMBERS = {"visitor_id": 12345678, "code": 123456}


@pytest.mark.parametrize(("url", "body", "field"), TEXT_FIELDS)
def test_a_number_where_text_is_expected_is_refused_on_every_json_endpoint(dpo, url, body, field):
    body = {k: dpo.ids["user"] if v == "{user}" else v for k, v in body.items()}
    number = NUMBERS.get(field, 0)
    value = [number] if field == "purposes" else number
    _assert_field_refused(_post(dpo, url, {**body, field: value}), field)


@pytest.mark.parametrize("value", [True, {"text": "x"}, ["x"]])
def test_booleans_objects_and_lists_are_not_text_either(dpo, value):
    _assert_field_refused(
        _post(dpo, "/api/v1/dsar/requests/{dsr}/deny/", {"reason": value}), "reason"
    )


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (
            "/api/v1/access/tokens/",
            {"user": "{user}", "name": "n", "scopes": ["audit:read"]},
            "user",
        ),
        ("/api/v1/access/unmask/", {"subject": SUBJECT, "reason": "ticket 4"}, "minutes"),
        (
            "/api/v1/consent/records/",
            {"subject": SUBJECT, "purpose": "ads", "state": "granted"},
            "notice",
        ),
        (
            f"/api/v1/consent/public/consents/?key={KEY}",
            {"visitor_id": "visitor-0001", "choices": {}},
            "notice",
        ),
    ],
)
def test_text_where_an_integer_is_expected_is_refused(dpo, url, body, field):
    body = {k: str(dpo.ids["user"]) if v == "{user}" else v for k, v in body.items()}
    _assert_field_refused(_post(dpo, url, {**body, field: "5"}), field)


@pytest.mark.parametrize("value", ["true", "yes", 1])
def test_anything_but_true_or_false_is_refused_where_a_boolean_is_expected(dpo, value):
    body = {"user": dpo.ids["user"], "name": "n", "scopes": ["audit:read"], "all_regions": value}
    _assert_field_refused(_post(dpo, "/api/v1/access/tokens/", body), "all_regions")


def test_a_number_where_a_uuid_is_expected_is_refused(dpo):
    body = {"subject": 5, "reason": "ticket 4"}
    _assert_field_refused(_post(dpo, "/api/v1/access/unmask/", body), "subject")


# --- query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "bogus"])
def test_a_request_status_filter_outside_its_enum_is_refused(dpo, value):
    _assert_field_refused(dpo.get("/api/v1/dsar/requests/", {"status": value}), "status")


def test_the_open_requests_filter_still_lists_them(dpo):
    response = dpo.get("/api/v1/dsar/requests/", {"status": "open"})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(dpo.ids["dsr"])]


@pytest.mark.parametrize("param", ["actor", "action", "region", "date_from"])
def test_an_empty_audit_filter_is_refused_rather_than_ignored(dpo, param):
    _assert_field_refused(dpo.get("/api/v1/audit/events/", {param: ""}), param)


def test_an_empty_subject_in_a_decision_query_is_refused(dpo):
    response = dpo.get("/api/v1/consent/decision/", {"subject": "", "purpose": "ads"})
    _assert_field_refused(response, "subject")


def test_the_schema_says_what_text_is_accepted(client):
    schema = client.get("/api/schema/?format=json").json()
    reason = schema["components"]["schemas"]["ReasonRequired"]["properties"]["reason"]
    assert reason == {"type": "string", "maxLength": 500, "minLength": 1, "pattern": "\\S"}
    parameters = schema["paths"]["/api/v1/audit/events/"]["get"]["parameters"]
    subject = next(p for p in parameters if p["name"] == "subject")
    assert subject["schema"] == {"type": "string", "format": "uuid"}
