"""Hostile input gets a 4xx in the one error format, never a 500, and every endpoint agrees."""

from __future__ import annotations

import io
import json

import pytest
from django.core.cache import cache
from django.test import override_settings

from access.roles import DPO
from audit.actors import Actor
from consent.models import ConsentProperty, Purpose
from core import webhooks
from core.errors import InvalidTextError, PayloadTooLargeError
from core.parsers import CheckedJSONParser
from dsar.models import SystemConnector, SystemTask
from dsar.services import request_create
from profiles.imports import import_job_create, import_job_run
from profiles.models import ImportLineError, System
from tests.factories import make_staff, make_subject, make_token

pytestmark = pytest.mark.django_db
KEY = "pk_test_hostile"

# Every endpoint that takes a JSON body (the public ones with the property key).
JSON_ENDPOINTS = [
    "/api/v1/access/tokens/",
    "/api/v1/access/unmask/",
    "/api/v1/profiles/subjects/upsert/",
    "/api/v1/profiles/subjects/batch/",
    "/api/v1/profiles/subjects/search/",
    "/api/v1/consent/decisions/bulk/",
    "/api/v1/consent/records/",
    "/api/v1/consent/tcf/decode/",
    "/api/v1/consent/gpp/decode/",
    f"/api/v1/consent/public/consents/?key={KEY}",
    f"/api/v1/dsar/intake/?key={KEY}",
    f"/api/v1/dsar/intake/confirm/?key={KEY}",
    "/api/v1/dsar/requests/",
    "/api/v1/dsar/requests/{dsr}/approve/",
    "/api/v1/dsar/requests/{dsr}/deny/",
    "/api/v1/dsar/requests/{dsr}/extend/",
    "/api/v1/dsar/callbacks/{task}/",
]
LIST_ENDPOINTS = [
    "/api/v1/profiles/subjects/",
    "/api/v1/audit/events/",
    "/api/v1/dsar/requests/",
    "/api/v1/profiles/imports/{job}/errors/",
]
SECRET = "s3cret"


@pytest.fixture
def dpo_api(api, roles, regimes):
    """A DPO signed in (all permissions, all regions), and the public property key."""
    prop = ConsentProperty.objects.create(name="Shop", publishable_key=KEY, allowed_origins=[])
    prop.purposes.set(Purpose.objects.all())
    cache.clear()
    api.force_login(make_staff(DPO))
    return api


@pytest.fixture
def objects(dpo_api):
    """A request, a connected system's task on it and an import job, to address in URLs."""
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
    job = dpo_api.generic(
        "POST", "/api/v1/profiles/imports/", b"{}\n", content_type="application/x-ndjson"
    ).json()["id"]
    return {"dsr": dsr.pk, "task": task.pk, "job": job}


def _post_raw(api, url: str, body: bytes):
    """POST a raw JSON body, signed as the connected system would sign a callback."""
    return api.generic(
        "POST",
        url,
        body,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=webhooks.sign(SECRET, body),
    )


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert set(response.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_a_10_mb_body_is_refused_with_413_on_every_json_endpoint(dpo_api, objects, url):
    body = json.dumps({"padding": "x" * (10 * 1024 * 1024)}).encode()
    _assert_error(_post_raw(dpo_api, url.format(**objects), body), 413, "payload_too_large")


def test_the_public_banner_api_has_a_smaller_body_limit(dpo_api):
    body = json.dumps({"visitor_id": "visitor-0001", "choices": {}, "pad": "x" * 70_000})
    response = _post_raw(dpo_api, f"/api/v1/consent/public/consents/?key={KEY}", body.encode())
    _assert_error(response, 413, "payload_too_large")


@override_settings(CUSTODIA_IMPORT_MAX_BYTES=1000)
def test_an_ndjson_upload_over_its_limit_is_refused_with_413(dpo_api):
    line = json.dumps({"identifiers": [{"kind": "email", "value": "a@example.com"}]}) + "\n"
    response = dpo_api.generic(
        "POST", "/api/v1/profiles/imports/", line * 40, content_type="application/x-ndjson"
    )
    _assert_error(response, 413, "payload_too_large")


def test_the_parser_counts_the_bytes_it_reads_not_the_announced_length():
    with pytest.raises(PayloadTooLargeError), override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        CheckedJSONParser().parse(io.BytesIO(b'{"a": "' + b"x" * 200 + b'"}'))


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_json_nested_10000_levels_is_refused_with_400_on_every_json_endpoint(dpo_api, objects, url):
    body = b"[" * 10_000 + b"]" * 10_000
    _assert_error(_post_raw(dpo_api, url.format(**objects), body), 400, "json_too_deep")


def test_brackets_inside_strings_do_not_count_as_nesting(dpo_api):
    response = _post_raw(
        dpo_api, "/api/v1/consent/tcf/decode/", json.dumps({"tc_string": "[" * 500}).encode()
    )
    _assert_error(response, 400, "tc_string_invalid")


def test_a_lone_surrogate_in_upsert_is_refused_with_400_invalid_text(dpo_api):
    body = b'{"region": "EU", "identifiers": [{"kind": "email", "value": "a@example.com"}],'
    body += b' "attributes": {"name": "\\ud800"}}'
    _assert_error(
        _post_raw(dpo_api, "/api/v1/profiles/subjects/upsert/", body), 400, "invalid_text"
    )


def test_a_surrogate_pair_is_ordinary_text(dpo_api):
    body = b'{"region": "EU", "identifiers": [{"kind": "email", "value": "b@example.com"}],'
    body += b' "attributes": {"name": "\\ud83d\\ude00"}}'
    response = _post_raw(dpo_api, "/api/v1/profiles/subjects/upsert/", body)
    assert response.status_code == 201


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_a_nul_character_gets_the_same_400_on_every_json_endpoint(dpo_api, objects, url):
    body = json.dumps(
        {
            "region": "EU",
            "identifiers": [{"kind": "email", "value": "a\u0000@example.com"}],
            "tc_string": "\u0000",
            "reason": "\u0000",
            "visitor_id": "visitor-0001",
            "choices": {"analytics": "granted"},
            "kind": "access",
            "email": "a\u0000@example.com",
        }
    ).encode()
    _assert_error(_post_raw(dpo_api, url.format(**objects), body), 400, "invalid_text")


def test_bytes_that_are_not_utf8_are_invalid_text():
    with pytest.raises(InvalidTextError):
        CheckedJSONParser().parse(io.BytesIO(b'{"a": "\xed\xa0\x80"}'))


def test_a_nul_character_in_the_query_string_is_refused_with_400(dpo_api):
    response = dpo_api.get("/api/v1/profiles/subjects/", {"region": "EU\u0000"})
    _assert_error(response, 400, "invalid_text")


@pytest.mark.parametrize("url", LIST_ENDPOINTS)
@pytest.mark.parametrize("param", ["limit", "offset"])
def test_a_page_parameter_beyond_64_bits_is_refused_with_400(dpo_api, objects, url, param):
    response = dpo_api.get(url.format(**objects), {param: "9223372036854775808"})
    _assert_error(response, 400, "invalid")
    assert param in response.json()["error"]["fields"]


@pytest.mark.parametrize("value", ["-1", "0", "ten", ""])
def test_a_limit_that_is_not_a_positive_whole_number_is_refused_with_400(dpo_api, value):
    response = dpo_api.get("/api/v1/profiles/subjects/", {"limit": value})
    _assert_error(response, 400, "invalid")


@override_settings(CUSTODIA_MAX_PAGE_SIZE=3)
@pytest.mark.parametrize("url", ["/api/v1/profiles/subjects/", "/api/v1/audit/events/"])
def test_the_largest_limit_is_capped_to_the_maximum_page_size(dpo_api, url):
    for _ in range(5):
        make_subject(region="EU")
    response = dpo_api.get(url, {"limit": "9223372036854775807"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] >= 5
    assert len(body["results"]) == 3
    assert "limit=3" in body["next"]


@override_settings(CUSTODIA_MAX_PAGE_SIZE=2)
def test_the_request_list_is_capped_to_the_maximum_page_size(dpo_api):
    for _ in range(3):
        dpo_api.post(
            "/api/v1/dsar/requests/",
            {"kind": "access", "email": "c@example.com", "region": "EU"},
            format="json",
        )
    response = dpo_api.get("/api/v1/dsar/requests/", {"limit": "9223372036854775807"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2


def test_an_offset_at_the_64_bit_maximum_is_an_empty_page(dpo_api):
    make_subject(region="EU")
    response = dpo_api.get("/api/v1/profiles/subjects/", {"offset": "9223372036854775807"})
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "url", ["/api/v1/profiles/subjects/", "/api/v1/access/me/", "/api/v1/consent/public/config/"]
)
def test_trace_is_405_before_authentication(client, url):
    response = client.generic("TRACE", url)
    _assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]
    assert "TRACE" not in response["Allow"]


@pytest.mark.parametrize("method", ["OPTIONS", "POST", "TRACE"])
def test_the_api_documentation_page_answers_get_and_head_only(client, method):
    """OPTIONS was a 500: DRF's metadata answer went through the page's HTML template."""
    response = client.generic(method, "/api/docs/")
    _assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"
    assert client.get("/api/docs/").status_code == 200


def test_a_method_the_endpoint_lacks_is_405_even_for_an_unauthenticated_caller(client):
    response = client.delete("/api/v1/profiles/subjects/upsert/")
    _assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST, OPTIONS"


def test_a_token_caller_gets_the_same_answers(api, roles):
    _, raw = make_token(["profiles:read", "profiles:write"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    _assert_error(
        api.get("/api/v1/profiles/subjects/", {"limit": "9223372036854775808"}), 400, "invalid"
    )
    body = b'{"identifiers": [{"kind": "email", "value": "\\u0000"}]}'
    _assert_error(_post_raw(api, "/api/v1/profiles/subjects/upsert/", body), 400, "invalid_text")


def test_the_schema_documents_the_error_responses_with_the_error_component(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    upsert = schema["paths"]["/api/v1/profiles/subjects/upsert/"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "415"} <= set(upsert)
    ref = upsert["413"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/Error"
    listing = schema["paths"]["/api/v1/profiles/subjects/"]["get"]
    assert {"400", "401", "403"} <= set(listing["responses"])
    for path in ("/api/v1/profiles/subjects/", "/api/v1/dsar/requests/"):
        parameters = schema["paths"][path]["get"]["parameters"]
        limit = next(p for p in parameters if p["name"] == "limit")
        assert limit["schema"]["maximum"] == 9223372036854775807
        assert "capped to 500" in limit["description"]
    public = schema["paths"]["/api/v1/consent/public/consents/"]["post"]["responses"]
    assert "429" in public


def test_import_lines_follow_the_same_rules_as_json_bodies():
    good = json.dumps(
        {"region": "EU", "identifiers": [{"kind": "email", "value": "d@example.com"}]}
    )
    lines = [
        good,
        "[" * 10_000 + "]" * 10_000,
        '{"identifiers": [{"kind": "email", "value": "e\\u0000@example.com"}]}',
        '{"identifiers": [{"kind": "email", "value": "\\ud800@example.com"}]}',
        "{not json",
    ]
    job = import_job_create(
        stream=io.BytesIO(("\n".join(lines) + "\n").encode()), actor=Actor.system("tests")
    )
    job = import_job_run(job_id=str(job.pk))
    assert (job.imported, job.failed) == (1, 4)
    errors = dict(ImportLineError.objects.filter(job=job).values_list("line", "code"))
    assert errors == {2: "json_too_deep", 3: "invalid_text", 4: "invalid_text", 5: "malformed_json"}


def test_integers_beyond_64_bits_in_bodies_and_paths_are_4xx(dpo_api):
    subject = make_subject(region="EU")
    record = dpo_api.post(
        "/api/v1/consent/records/",
        {"subject": str(subject.pk), "purpose": "analytics", "state": "granted", "notice": 2**70},
        format="json",
    )
    assert record.status_code == 400
    public = dpo_api.post(
        f"/api/v1/consent/public/consents/?key={KEY}",
        {"visitor_id": "visitor-0001", "choices": {"analytics": "granted"}, "notice": 2**70},
        format="json",
    )
    assert public.status_code < 500
    revoke = dpo_api.post(f"/api/v1/access/tokens/{2**70}/revoke/")
    _assert_error(revoke, 404, "not_found")


@pytest.mark.parametrize("region", ["XX", "EU" * 20, "eu'--"])
def test_an_import_for_an_unknown_region_is_refused_before_a_job_exists(dpo_api, region):
    from profiles.models import ImportJob

    response = dpo_api.generic(
        "POST",
        f"/api/v1/profiles/imports/?region={region}",
        b"{}\n",
        content_type="application/x-ndjson",
    )
    _assert_error(response, 400, "invalid")
    assert response.json()["error"]["fields"]["region"]
    assert not ImportJob.objects.exists()
