"""SAML 2.0 sign-in with assertions signed by a pysaml2 test IdP (real XML signatures)."""

import urllib.parse

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access.models import RegionScope
from access.roles import AUDITOR, PRIVACY_OFFICER
from audit.models import AuditEvent
from sso.models import GroupMapping, IdentityProvider
from tests.sso.saml_idp import ENTITY_ID, SSO_URL, SamlIdp

pytestmark = pytest.mark.django_db
SP = "http://testserver/sso/saml/corp-saml/metadata/"
ACS = "http://testserver/sso/saml/corp-saml/acs/"


@pytest.fixture(scope="session")
def saml_idp():
    return SamlIdp()


@pytest.fixture
def saml(saml_idp, roles):
    row = IdentityProvider.objects.create(
        kind="saml",
        name="Corp SAML",
        slug="corp-saml",
        entity_id=ENTITY_ID,
        sso_url=SSO_URL,
        certificate=saml_idp.certificate,
    )
    GroupMapping.objects.create(
        provider=row, value="privacy-officers", role=PRIVACY_OFFICER, regions=["EU"]
    )
    GroupMapping.objects.create(provider=row, value="auditors", role=AUDITOR, all_regions=True)
    saml_idp.row = row
    saml_idp.sp_metadata = Client().get("/sso/saml/corp-saml/metadata/").content.decode()
    return saml_idp


def _post(client, saml, **kwargs):
    body = saml.response(saml.sp_metadata, acs_url=ACS, sp_entity_id=kwargs.pop("sp", SP), **kwargs)
    return client.post(
        "/sso/saml/corp-saml/acs/", {"SAMLResponse": body, "RelayState": "/admin/"}
    ), body


def _failed_reason():
    return AuditEvent.objects.get(action="sso.signin.failed").reason


def test_the_sp_metadata_is_published_at_a_stable_url(saml):
    assert SP in saml.sp_metadata
    assert ACS in saml.sp_metadata
    assert "AssertionConsumerService" in saml.sp_metadata


def test_sp_initiated_sign_in_maps_groups_to_role_and_regions(saml):
    client = Client()
    start = client.get("/sso/saml/corp-saml/start/?next=/admin/")
    assert start.status_code == 302
    assert start["Location"].startswith(SSO_URL)
    from saml2 import BINDING_HTTP_REDIRECT

    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))
    server = saml.server(saml.sp_metadata)
    request = server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
    response, _ = _post(client, saml, in_response_to=request.message.id)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    user = get_user_model().objects.get(email="erin@corp.example")
    assert set(user.groups.values_list("name", flat=True)) == {PRIVACY_OFFICER}
    assert RegionScope.objects.get(user=user).regions == ["EU"]
    assert client.get("/admin/").status_code == 200


def test_idp_initiated_sign_in_and_the_mapping_applied_again(saml):
    assert _post(Client(), saml)[0]["Location"] == "/admin/"
    response, _ = _post(Client(), saml, groups=("auditors",))
    assert response["Location"] == "/admin/"
    user = get_user_model().objects.get(email="erin@corp.example")
    assert set(user.groups.values_list("name", flat=True)) == {AUDITOR}
    assert RegionScope.objects.get(user=user).all_regions


def test_a_wrong_signature_is_refused(saml):
    client = Client()
    response, _ = _post(client, saml, other_key=True)
    assert response["Location"] == "/admin/login/"
    assert _failed_reason() == "bad_signature"
    assert not get_user_model().objects.filter(email="erin@corp.example").exists()


def test_an_expired_assertion_is_refused(saml):
    response, _ = _post(Client(), saml, lifetime_minutes=-10)
    assert response["Location"] == "/admin/login/"
    assert _failed_reason() == "expired"


def test_a_wrong_audience_is_refused(saml):
    response, _ = _post(Client(), saml, sp="https://another-sp.example/metadata")
    assert response["Location"] == "/admin/login/"
    assert _failed_reason() == "wrong_audience"


def test_a_replayed_assertion_is_refused(saml):
    first, body = _post(Client(), saml)
    assert first["Location"] == "/admin/"
    again = Client().post("/sso/saml/corp-saml/acs/", {"SAMLResponse": body})
    assert again["Location"] == "/admin/login/"
    assert _failed_reason() == "replayed"
