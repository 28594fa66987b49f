"""The custom inbound format: an officer's mapping from paths of the source's own JSON to
identifiers, attributes (with their category) and events. It is validated on save, applied by
the same upsert path as Segment calls, and previewed against a pasted sample without writing
anything; a call the mapping cannot place is dead-lettered, and replayed once the mapping is
fixed."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from activation.mapping import mapping_errors
from activation.models import InboxMessage, SourceEndpoint
from audit.models import AuditEvent
from profiles.models import Attribute, Event, Subject, System
from tests.activation.test_source_webhooks import holder, post, process_pending
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

MAPPING = {
    "message_id": "id",
    "timestamp": "created_at",
    "identifiers": [
        {"path": "customer.email", "kind": "email"},
        {"path": "customer.number", "kind": "customer_id"},
    ],
    "attributes": [
        {"path": "customer.first_name", "key": "first_name", "category": "identity"},
        {"path": "customer.tier", "key": "loyalty_tier", "category": "descriptive"},
    ],
    "events": [
        {"name_path": "topic", "properties": {"total": "order.total", "sku": "order.lines.0.sku"}}
    ],
}
ORDER = {
    "id": "ord-1001",
    "topic": "order_placed",
    "created_at": "2026-10-02T09:30:00Z",
    "customer": {"email": "Lena.Roth@example.de", "number": "C-77", "first_name": "Lena"},
    "order": {"total": 59.9, "lines": [{"sku": "TEA-1"}]},
}


@pytest.fixture
def custom_source():
    system = System.objects.create(name="Order system", kind=System.Kind.SOURCE)
    return SourceEndpoint.objects.create(
        system=system, regions=["EU"], format=SourceEndpoint.Format.CUSTOM, mapping=MAPPING
    )


def test_a_mapping_is_validated_entry_by_entry_on_save():
    system = System.objects.create(name="Bad source", kind=System.Kind.SOURCE)
    bad = {
        "message_id": "id",
        "identifiers": [{"path": "customer..email", "kind": "passport"}],
        "attributes": [{"path": "a", "key": "First Name", "category": "secret"}],
        "events": [{"name": "x", "name_path": "y"}],
        "extra": 1,
    }
    endpoint = SourceEndpoint(system=system, regions=["EU"], format="custom", mapping=bad)
    with pytest.raises(ValidationError) as raised:
        endpoint.full_clean()
    errors = raised.value.message_dict["mapping"]
    assert any(e.startswith("identifiers[0].path") for e in errors)
    assert any(e.startswith("identifiers[0].kind") for e in errors)
    assert any(e.startswith("attributes[0].key") for e in errors)
    assert any(e.startswith("attributes[0].category") for e in errors)
    assert any(e.startswith("events[0]: either name or name_path") for e in errors)
    assert any(e.startswith("extra:") for e in errors)
    assert mapping_errors(MAPPING) == []
    assert mapping_errors({"message_id": "id"}) == [
        "identifiers: at least one entry (path and kind)."
    ]


def test_a_custom_call_goes_through_the_same_upsert_as_segment(api, custom_source):
    response = post(api, custom_source, ORDER)
    assert response.status_code == 202, response.content
    assert InboxMessage.objects.get().kind == "custom"
    assert post(api, custom_source, ORDER).status_code == 200  # same id: not stored twice
    process_pending()
    assert InboxMessage.objects.get().status == "done"
    subject = holder("email", "lena.roth@example.de")
    assert holder("customer_id", "C-77") == subject
    assert subject.region == "EU"
    attributes = {a.key: a for a in Attribute.objects.filter(subject=subject)}
    assert attributes["first_name"].value == "Lena"
    assert attributes["first_name"].category == "identity"
    assert "loyalty_tier" not in attributes  # absent from this call: skipped
    event = Event.objects.get(subject=subject)
    assert event.name == "order_placed"
    assert event.payload == {"total": 59.9, "sku": "TEA-1"}
    assert event.occurred_at.isoformat().startswith("2026-10-02T09:30")
    assert event.source == custom_source.system
    assert AuditEvent.objects.filter(action__startswith="profiles.subject").exists()


def test_a_call_without_the_message_id_path_is_refused_at_intake(api, custom_source):
    response = post(api, custom_source, {**ORDER, "id": None})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert not InboxMessage.objects.exists()


@pytest.mark.parametrize("message_id", [True, False, "\u200b"])
def test_a_message_id_that_is_no_id_is_refused_at_intake(api, custom_source, message_id):
    """`true` as a message id would make every later call with `true` a replay, dropped."""
    response = post(api, custom_source, {**ORDER, "id": message_id})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert not InboxMessage.objects.exists()


def test_dead_letter_then_fix_the_mapping_in_the_admin_then_replay(
    api, custom_source, client, roles
):
    renamed = {**ORDER, "buyer": ORDER["customer"]}
    del renamed["customer"]
    post(api, custom_source, renamed)
    process_pending()
    message = InboxMessage.objects.get()
    assert message.status == "dead"
    assert "customer.email" in message.last_error
    assert "lena" not in message.last_error.lower()
    assert not Subject.objects.exists()

    client.force_login(make_staff("DPO"))
    fixed = json.loads(json.dumps(MAPPING).replace('"customer.', '"buyer.'))
    url = f"/admin/activation/sourceendpoint/{custom_source.pk}/change/"
    response = client.post(
        url,
        {
            "system": custom_source.system_id,
            "format": "custom",
            "regions": '["EU"]',
            "rate": "600/min",
            "tolerance_seconds": 300,
            "active": "on",
            "mapping": json.dumps(fixed),
            "sample": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    custom_source.refresh_from_db()
    assert custom_source.mapping == fixed

    client.post(
        "/admin/activation/inboxmessage/",
        {"action": "replay", "_selected_action": [str(message.pk)]},
    )
    process_pending()
    message.refresh_from_db()
    assert message.status == "done"
    assert holder("email", "lena.roth@example.de").pk == message.subject_id


def test_the_admin_refuses_to_save_a_broken_mapping(custom_source, client, roles):
    client.force_login(make_staff("DPO"))
    response = client.post(
        f"/admin/activation/sourceendpoint/{custom_source.pk}/change/",
        {
            "system": custom_source.system_id,
            "format": "custom",
            "regions": '["EU"]',
            "rate": "600/min",
            "tolerance_seconds": 300,
            "mapping": json.dumps({"message_id": "id", "identifiers": [{"path": "x"}]}),
        },
    )
    assert response.status_code == 200
    assert "identifiers[0].kind: one of email" in response.content.decode()
    custom_source.refresh_from_db()
    assert custom_source.mapping == MAPPING


def _preview(client, mapping, sample, regions='["EU"]'):
    return client.post(
        "/admin/activation/sourceendpoint/preview/",
        {
            "mapping": mapping if isinstance(mapping, str) else json.dumps(mapping),
            "sample": sample if isinstance(sample, str) else json.dumps(sample),
            "regions": regions,
        },
    )


def test_preview_shows_what_the_mapping_makes_masked_and_writes_nothing(client, roles):
    client.force_login(make_staff("DPO"))
    audit_before = AuditEvent.objects.count()
    body = _preview(client, MAPPING, ORDER).json()
    assert body["errors"] == []
    assert body["message_id"] == "ord-1001"
    assert {"kind": "email", "value": "L***@e***.de"} in body["identifiers"]
    assert [a["key"] for a in body["attributes"]] == ["first_name"]
    assert body["attributes"][0]["category"] == "identity"
    assert body["events"][0]["name"] == "order_placed"
    assert body["missing_paths"] == ["customer.tier"]
    text = json.dumps(body)
    assert "Lena" not in text
    assert "C-77" not in text
    assert "TEA-1" not in text
    assert AuditEvent.objects.count() == audit_before
    assert not Subject.objects.exists()
    assert not InboxMessage.objects.exists()


def test_preview_names_bad_paths_and_bad_json(client, roles):
    client.force_login(make_staff("DPO"))
    errors = _preview(client, {**MAPPING, "timestamp": "created at"}, ORDER).json()["errors"]
    assert errors == ["timestamp: a path is keys separated by dots (e.g. customer.email)."]
    wrong = {**MAPPING, "identifiers": [{"path": "customer", "kind": "email"}]}
    errors = _preview(client, wrong, ORDER).json()["errors"]
    assert errors == ["identifiers[0]: the path customer holds an object or list, not a value."]
    errors = _preview(client, MAPPING, '{"id": "x",\n "customer": }').json()["errors"]
    assert errors == ["The sample is not JSON (line 2, column 14)."]
    assert _preview(client, MAPPING, ORDER, regions="[]").json()["errors"]


def test_preview_needs_the_right_to_edit_sources(client, roles):
    client.force_login(make_staff("Auditor"))
    assert _preview(client, MAPPING, ORDER).status_code == 403
