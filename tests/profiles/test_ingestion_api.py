"""Ingestion API: token-authenticated upserts, batches with idempotency, suppression."""

import pytest

from audit.actors import Actor
from audit.models import AuditEvent
from core.regions import KNOWN_REGIONS
from profiles.models import Identifier, Subject
from profiles.services import subject_erase
from tests.factories import make_token

pytestmark = pytest.mark.django_db

RECORD = {
    "region": "EU",
    "identifiers": [
        {"kind": "email", "value": "Nina.Weber@Example.de"},
        {"kind": "phone", "value": "+49 151 23456789"},
    ],
    "attributes": {"name": "Nina Weber", "city": "Berlin"},
    "events": [
        {
            "name": "purchase",
            "payload": {"sku": "A1", "amount": 42},
            "occurred_at": "2026-10-01T10:00:00Z",
        }
    ],
}


@pytest.fixture
def writer(api):
    _, raw = make_token(["profiles:write", "profiles:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def test_upsert_creates_a_subject_then_updates_the_same_one(writer):
    first = writer.post("/api/v1/profiles/subjects/upsert/", RECORD, format="json")
    assert first.status_code == 201, first.json()
    again = writer.post(
        "/api/v1/profiles/subjects/upsert/",
        {
            **RECORD,
            "identifiers": [{"kind": "email", "value": "nina.weber@example.de"}],
            "attributes": {"city": "Hamburg"},
        },
        format="json",
    )
    assert again.status_code == 200
    assert again.json()["subject_id"] == first.json()["subject_id"]
    subject = Subject.objects.get(pk=first.json()["subject_id"])
    assert {a.key: a.value for a in subject.attributes.all()} == {
        "name": "Nina Weber",
        "city": "Hamburg",
    }
    assert subject.events.count() == 1


def test_token_without_write_scope_is_refused(api):
    _, raw = make_token(["profiles:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.post("/api/v1/profiles/subjects/upsert/", RECORD, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_token_limited_to_eu_cannot_write_a_californian(api):
    _, raw = make_token(["profiles:write"], regions=["EU"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api.post(
        "/api/v1/profiles/subjects/upsert/", {**RECORD, "region": "US-CA"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "region_not_allowed"


def test_bad_records_get_field_errors_without_echoing_values(writer):
    response = writer.post(
        "/api/v1/profiles/subjects/upsert/",
        {"region": "EU", "identifiers": [{"kind": "email", "value": "not-an-email"}]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid_identifier"
    assert "not-an-email" not in response.content.decode()


@pytest.mark.parametrize(
    "occurred_at",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30T10:00:00Z"],
)
def test_an_event_time_no_database_can_store_is_a_400(writer, occurred_at):
    """Well formed, but year 0 or 10000 in UTC, or no day of the calendar: it was a 500
    (OverflowError, ValueError) here, a failed import line and a dead source message."""
    record = {
        "region": "EU",
        "identifiers": [{"kind": "email", "value": "time@example.com"}],
        "events": [{"name": "page_view", "occurred_at": occurred_at}],
    }
    response = writer.post("/api/v1/profiles/subjects/upsert/", record, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "events": ["occurred_at must be an ISO 8601 date-time."]
    }


def test_an_identity_listed_twice_in_a_record_is_written_once(writer):
    """The same e-mail in two spellings (or twice) is one identity; writing it twice broke the
    identifier's unique constraint, a 500."""
    record = {
        **RECORD,
        "identifiers": [
            {"kind": "email", "value": "Nina.Weber@Example.de"},
            {"kind": "email", "value": " nina.weber@example.de", "verified": True},
        ],
    }
    for status in (201, 200):  # new, then known (both write paths)
        response = writer.post("/api/v1/profiles/subjects/upsert/", record, format="json")
        assert response.status_code == status, response.json()
    identifier = Identifier.objects.get()
    assert (identifier.kind, identifier.verified) == ("email", True)


def test_batch_is_idempotent_and_reports_each_record(writer):
    batch = {
        "idempotency_key": "import-2026-11-25-a",
        "records": [
            RECORD,
            {"region": "XX", "identifiers": [{"kind": "email", "value": "a@example.com"}]},
        ],
    }
    first = writer.post("/api/v1/profiles/subjects/batch/", batch, format="json")
    assert first.status_code == 200
    body = first.json()
    assert body["succeeded"] == 1
    assert body["failed"] == 1
    assert body["results"][1]["error"]["fields"] == {
        "region": [f"Unknown or missing region; use one of {', '.join(KNOWN_REGIONS)}."]
    }
    replay = writer.post("/api/v1/profiles/subjects/batch/", batch, format="json")
    assert replay.json()["replayed"] is True
    assert Subject.objects.count() == 1
    conflict = writer.post(
        "/api/v1/profiles/subjects/batch/", {**batch, "records": [RECORD, RECORD]}, format="json"
    )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_key_reused"


def test_batch_refuses_more_than_one_thousand_records(writer):
    records = [
        {"region": "EU", "identifiers": [{"kind": "customer_id", "value": str(i)}]}
        for i in range(1001)
    ]
    response = writer.post(
        "/api/v1/profiles/subjects/batch/",
        {"idempotency_key": "too-big", "records": records},
        format="json",
    )
    assert response.status_code == 400
    assert "records" in response.json()["error"]["fields"]


def test_an_erased_identity_is_suppressed_on_reimport(writer):
    created = writer.post("/api/v1/profiles/subjects/upsert/", RECORD, format="json").json()
    subject_erase(subject_id=created["subject_id"], actor=Actor.system("tests"))
    again = writer.post("/api/v1/profiles/subjects/upsert/", RECORD, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "identity_suppressed"
    assert not Identifier.objects.exists()


def test_malformed_json_body_is_a_clear_400(writer):
    response = writer.post(
        "/api/v1/profiles/subjects/upsert/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_writes_are_audited_with_field_names_only(writer):
    writer.post("/api/v1/profiles/subjects/upsert/", RECORD, format="json")
    event = AuditEvent.objects.get(action="profiles.subject.create")
    assert event.actor_type == "token"
    assert "attribute.name" in event.fields
    row_text = str(list(AuditEvent.objects.values()))
    for value in ("nina", "weber", "berlin", "23456789"):
        assert value not in row_text.lower()


def _two_region_batch(key: str) -> dict:
    us = {"region": "US-CA", "identifiers": [{"kind": "email", "value": "sam.lee@example.com"}]}
    return {"idempotency_key": key, "records": [RECORD, us]}


def test_a_replay_after_the_callers_regions_shrank_returns_no_subject_of_a_lost_region(api):
    """The stored answer was replayed whatever the caller now sees: an account that lost US-CA
    still read the ids of the Californians its batch had created."""
    from access.models import RegionScope

    token, raw = make_token(["profiles:write"])
    scope = RegionScope.objects.get(user=token.user)
    scope.all_regions, scope.regions = False, ["EU", "US-CA"]
    scope.save()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    batch = _two_region_batch("scope-shrinks")
    first = api.post("/api/v1/profiles/subjects/batch/", batch, format="json")
    assert first.json()["succeeded"] == 2
    californian = Subject.objects.get(region="US-CA")

    scope.regions = ["EU"]
    scope.save()
    replay = api.post("/api/v1/profiles/subjects/batch/", batch, format="json")
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "idempotency_scope_changed"
    assert str(californian.pk) not in replay.content.decode()

    scope.regions = ["EU", "US-CA", "BR"]  # a scope that grew still sees the whole answer
    scope.save()
    again = api.post("/api/v1/profiles/subjects/batch/", batch, format="json")
    assert again.json()["replayed"] is True
    assert again.json()["results"][1]["subject_id"] == str(californian.pk)


def test_a_replay_by_a_session_whose_regions_shrank_is_refused(client):
    """The same for a signed-in officer (the caller is the account, not a token)."""
    from access.models import RegionScope
    from access.services import sync_roles
    from tests.factories import make_staff

    sync_roles()
    officer = make_staff("Privacy officer", regions=["EU", "US-CA"])
    client.force_login(officer)
    batch = _two_region_batch("session-scope-shrinks")
    first = client.post("/api/v1/profiles/subjects/batch/", batch, content_type="application/json")
    assert first.json()["succeeded"] == 2, first.json()
    RegionScope.objects.filter(user=officer).update(regions=["EU"])
    replay = client.post("/api/v1/profiles/subjects/batch/", batch, content_type="application/json")
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "idempotency_scope_changed"
    assert "US-CA" not in replay.content.decode()
