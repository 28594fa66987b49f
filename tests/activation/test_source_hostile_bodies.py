"""A signed source call is read under the API's JSON rules: nesting deeper than the limit, a
NUL or a lone surrogate, bytes that are not UTF-8 and NaN/Infinity are refused at intake with
a 400 and a stable code, never stored. Deep nesting was a 500 (RecursionError); a lone
surrogate was accepted, then failed every drain (UnicodeEncodeError) until dead-lettered.
The mapping preview reads its pasted JSON the same way (deep nesting was a 500 there)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from activation.models import InboxMessage, SourceEndpoint
from core.webhooks import sign
from profiles.models import System
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

DEEP = b"[" * 50_000 + b"]" * 50_000


@pytest.fixture
def source():
    system = System.objects.create(name="Web shop", kind=System.Kind.SOURCE)
    return SourceEndpoint.objects.create(system=system, regions=["EU"])


def _post(api, source, body: bytes):
    return api.post(
        f"/api/v1/sources/{source.pk}/events/",
        data=body,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=sign(source.secret, body),
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            b'{"type":"identify","messageId":"m1","userId":"u1","traits":{"x":' + DEEP + b"}}",
            "json_too_deep",
        ),
        (
            b'{"type":"track","messageId":"m2","userId":"u1\\ud800","event":"bought"}',
            "invalid_text",
        ),
        (b'{"type":"track","messageId":"m3","userId":"u1","event":"a\\u0000b"}', "invalid_text"),
        (
            b'{"type":"identify","messageId":"m4","userId":"u1","traits":{"score":NaN}}',
            "invalid_payload",
        ),
        (b'\xff\xfe{"type":"identify"}', "invalid_text"),
    ],
)
def test_a_hostile_body_is_refused_at_intake(api, source, body, code):
    response = _post(api, source, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not InboxMessage.objects.exists()


def test_a_well_formed_call_is_still_accepted(api, source):
    body = json.dumps(
        {"type": "identify", "messageId": "m5", "userId": "u1", "traits": {"city": "Zürich"}}
    ).encode()
    assert _post(api, source, body).status_code == 202


@pytest.mark.parametrize("field", ["mapping", "sample"])
def test_the_preview_answers_a_deep_document_with_an_error(client, roles, field):
    client.force_login(make_staff("DPO"))
    data = {
        "mapping": json.dumps(
            {"message_id": "id", "identifiers": [{"path": "e", "kind": "email"}]}
        ),
        "sample": '{"id": "1", "e": "a@example.com"}',
        "regions": '["EU"]',
        field: DEEP.decode(),
    }
    response = client.post("/admin/activation/sourceendpoint/preview/", data)
    assert response.status_code == 200
    assert response.json()["errors"] == [
        f"The {field} cannot be read: JSON nested deeper than {settings.CUSTODIA_JSON_MAX_DEPTH} levels."
    ]


@pytest.mark.parametrize("given", ["\u00e9" * 64, "\u00ff", "a\u00e9"])
def test_a_signature_that_is_not_ascii_is_a_401_not_a_500(api, source, given):
    """The signature header is read as Latin-1 text: `v1=` with a byte above 127 made the
    constant-time comparison raise (TypeError: non-ASCII str), a 500 to anyone knowing the
    source's id and the time."""
    import time

    body = json.dumps({"type": "track", "messageId": "m9", "userId": "u1", "event": "x"}).encode()
    response = api.post(
        f"/api/v1/sources/{source.pk}/events/",
        data=body,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=f"t={int(time.time())},v1={given}",
    )
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "invalid_signature"
    assert not InboxMessage.objects.exists()
