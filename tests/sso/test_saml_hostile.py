"""Whatever is posted to the SAML assertion consumer (no response, not base64, not XML, an
entity-expansion bomb, a NUL, an unsigned response) ends at the sign-in page with a refusal
audited, never a 500 and never a session."""

import base64

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.sso.test_saml import saml, saml_idp  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&lol2;</samlp:Response>'
)
UNSIGNED = (
    b'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="x" Version="2.0" '
    b'IssueInstant="2020-01-01T00:00:00Z"/>'
)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"SAMLResponse": ""},
        {"SAMLResponse": "%%%not base64%%%"},
        {"SAMLResponse": _b64(b"not xml")},
        {"SAMLResponse": _b64(BOMB)},
        {"SAMLResponse": _b64(b"<a>\x00</a>")},
        {"SAMLResponse": _b64("<x>\ud800</x>".encode("utf-8", "surrogatepass"))},
        {"SAMLResponse": _b64(UNSIGNED)},
        {"SAMLResponse": _b64(UNSIGNED), "RelayState": "javascript:alert(1)"},
    ],
    ids=["none", "empty", "not-base64", "not-xml", "bomb", "nul", "surrogate", "unsigned", "relay"],
)
def test_garbage_at_the_assertion_consumer_is_refused_without_a_session(saml, body):  # noqa: F811
    client = Client()
    response = client.post("/sso/saml/corp-saml/acs/", body)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action__startswith="sso.").exists()


def test_metadata_without_xmlsec1_is_a_plain_503_not_a_500(saml, monkeypatch):  # noqa: F811
    monkeypatch.setattr("sso.saml.shutil.which", lambda name: None)
    response = Client().get("/sso/saml/corp-saml/metadata/")
    assert response.status_code == 503
    assert "xmlsec1_missing" in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "start_at"),
    [
        ({}, "/admin/login/"),  # added in the admin, its IdP fields not filled in yet
        ({"certificate": "MIIB", "entity_id": "https://idp.example"}, "/admin/login/"),  # no URL
        (
            {"certificate": "<x>&", "sso_url": "https://idp.example/sso", "entity_id": "e"},
            "https://idp.example/sso?SAMLRequest=",
        ),
    ],
    ids=["empty", "no-sso-url", "markup-as-certificate"],
)
def test_a_provider_whose_idp_fields_are_incomplete_answers_without_a_500(db, fields, start_at):
    """pysaml2 raised SignOnError, TypeError, or SAMLError on the IdP metadata the fields made
    (markup in the certificate went into it unescaped): a 500 on the provider's sign-in
    button, for anyone. A sign-in that cannot start is refused and audited, a response is
    refused, and the SP's own metadata does not depend on the IdP's fields."""
    from sso.models import IdentityProvider

    IdentityProvider.objects.create(kind="saml", name="Half done", slug="half", **fields)
    client = Client()
    start = client.get("/sso/saml/half/start/")
    assert start.status_code == 302
    assert start["Location"].startswith(start_at)
    acs = client.post("/sso/saml/half/acs/", {"SAMLResponse": _b64(UNSIGNED)})
    assert acs.status_code == 302
    assert acs["Location"] == "/admin/login/"
    assert "_auth_user_id" not in client.session
    assert client.get("/sso/saml/half/metadata/").status_code == 200
