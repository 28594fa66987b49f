"""OIDC sign-in against a real local OpenID provider: signed ID tokens, PKCE, state, nonce."""

import urllib.parse

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access.models import RegionScope
from access.roles import AUDITOR, PRIVACY_OFFICER
from audit.models import AuditEvent
from sso.models import IdentityProvider, SsoIdentity

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, idp) -> tuple:
    start = client.get("/sso/oidc/corp/start/?next=/admin/")
    assert start.status_code == 302
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))
    assert params["code_challenge_method"] == "S256"
    assert params["nonce"]
    assert params["state"]
    back = urllib.parse.urlsplit(idp.authorize(params))  # the user signs in at the IdP
    response = client.get(back.path + "?" + back.query)
    return response, params


def _roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_the_client_secret_is_stored_sealed_and_opens(idp):
    row = IdentityProvider.objects.get(slug="corp")
    assert idp.client_secret not in row.client_secret_sealed
    assert row.client_secret() == idp.client_secret


def test_a_good_sign_in_creates_the_staff_user_with_mapped_role_and_regions(settings, idp):
    settings.CUSTODIA_REQUIRE_MFA = True  # the IdP's authentication stands for the TOTP
    client = Client()
    response, _ = _sign_in(client, idp)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    user = get_user_model().objects.get(email="alice@corp.example")
    assert user.is_staff
    assert not user.has_usable_password()
    assert _roles(user) == {PRIVACY_OFFICER}
    scope = RegionScope.objects.get(user=user)
    assert scope.regions == ["EU"]
    assert not scope.all_regions
    assert client.get("/admin/").status_code == 200
    actions = list(
        AuditEvent.objects.filter(action__startswith="sso.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["sso.signin.success", "sso.user.provision"]
    for event in AuditEvent.objects.filter(action__startswith="sso."):
        assert "alice" not in str(event.__dict__)


def test_the_mapping_is_applied_again_at_every_sign_in(idp):
    _sign_in(Client(), idp)
    idp.user["groups"] = ["auditors"]  # moved to another group in the IdP
    response, _ = _sign_in(Client(), idp)
    assert response.status_code == 302
    user = get_user_model().objects.get(email="alice@corp.example")
    assert _roles(user) == {AUDITOR}
    assert RegionScope.objects.get(user=user).all_regions
    assert SsoIdentity.objects.filter(user=user).count() == 1


def test_a_user_whose_groups_map_to_no_role_is_refused_and_loses_the_roles(idp):
    _sign_in(Client(), idp)
    idp.user["groups"] = ["cafeteria"]
    client = Client()
    response, _ = _sign_in(client, idp)
    assert response["Location"] == "/admin/login/"
    user = get_user_model().objects.get(email="alice@corp.example")
    assert _roles(user) == set()
    assert client.get("/admin/").status_code == 302
    assert AuditEvent.objects.filter(action="sso.signin.failed", reason="no_mapped_role").exists()


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("bad_signature", "bad_signature"),
        ("wrong_nonce", "wrong_nonce"),
        ("non_ascii_nonce", "wrong_nonce"),
        ("non_text_nonce", "wrong_nonce"),
        ("long_subject", "bad_subject"),
        ("non_text_subject", "bad_subject"),
        ("long_email", "bad_email"),
        ("expired", "expired"),
        ("wrong_audience", "wrong_audience"),
        ("wrong_issuer", "wrong_issuer"),
    ],
)
def test_a_bad_id_token_is_refused_and_audited(idp, breakage, reason):
    from joserfc.jwk import RSAKey

    if breakage == "bad_signature":
        idp.sign_with = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    elif breakage == "wrong_nonce":
        idp.tamper = {"nonce": "not-the-one-we-sent"}
    elif breakage == "non_ascii_nonce":  # compare_digest raised TypeError on it: a 500
        idp.tamper = {"nonce": "nonce-\u00e9t\u00e9-\u2603"}
    elif breakage == "non_text_nonce":
        idp.tamper = {"nonce": {"value": 1}}
    elif breakage == "long_subject":
        idp.tamper = {"sub": "s" * 256}
    elif breakage == "non_text_subject":
        idp.tamper = {"sub": {"id": 1}}
    elif breakage == "long_email":
        idp.tamper = {"email": "a" * 250 + "@corp.example"}
    elif breakage == "expired":
        idp.tamper = {"exp": 1_600_000_000, "iat": 1_599_999_000}
    elif breakage == "wrong_audience":
        idp.tamper = {"aud": "someone-else"}
    else:
        idp.tamper = {"iss": "https://evil.example"}
    client = Client()
    response, _ = _sign_in(client, idp)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"
    assert not get_user_model().objects.filter(email="alice@corp.example").exists()
    assert client.get("/admin/").status_code == 302
    event = AuditEvent.objects.get(action="sso.signin.failed")
    assert event.reason == reason
    assert event.object_id == str(idp.row.pk)


def test_a_callback_with_an_unknown_state_is_refused(idp):
    client = Client()
    start = client.get("/sso/oidc/corp/start/")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))
    back = urllib.parse.urlsplit(idp.authorize({**params, "state": "forged"}))
    response = client.get(back.path + "?" + back.query)
    assert response["Location"] == "/admin/login/"
    assert AuditEvent.objects.get(action="sso.signin.failed").reason == "bad_state"


def test_a_code_replayed_from_another_browser_is_refused(idp):
    client = Client()
    _, params = _sign_in(client, idp)
    # the same state/code pair again: the state was used once and is gone
    other = Client()
    start = other.get("/sso/oidc/corp/start/")
    assert start.status_code == 302
    response = other.get(f"/sso/oidc/corp/callback/?code=x&state={params['state']}")
    assert response["Location"] == "/admin/login/"


def test_an_idp_identity_never_takes_over_a_local_superuser(idp):
    from tests.factories import make_staff

    root = make_staff(None, email="alice@corp.example", is_superuser=True)
    response, _ = _sign_in(Client(), idp)
    assert response["Location"] == "/admin/login/"
    assert not SsoIdentity.objects.filter(user=root).exists()
    assert AuditEvent.objects.get(action="sso.signin.failed").reason == "local_superuser"


@pytest.mark.parametrize("account", ["service_account", "other_provider"])
def test_an_idp_identity_never_takes_an_account_it_does_not_sign_in(idp, account):
    """By its e-mail address, an identity of this provider took any local account: a service
    account (its API tokens then acting with the roles and regions the mapping grants) or an
    account another provider signs in (this provider's mapping replacing that one's roles and
    regions: a US officer made an EU one, or the reverse)."""
    from access.roles import DPO, SERVICE_ACCOUNT
    from tests.factories import make_staff

    if account == "service_account":
        held = make_staff(SERVICE_ACCOUNT, email="alice@corp.example", is_staff=False)
    else:
        held = make_staff(DPO, regions=["US-CA"], email="alice@corp.example")
        other = IdentityProvider.objects.create(kind="oidc", name="US IdP", slug="us")
        SsoIdentity.objects.create(provider=other, subject="us-alice", user=held)
    roles_before = _roles(held)
    response, _ = _sign_in(Client(), idp)
    assert response["Location"] == "/admin/login/"
    assert not SsoIdentity.objects.filter(user=held, provider=idp.row).exists()
    held.refresh_from_db()
    assert _roles(held) == roles_before
    assert held.region_scope.regions == ([] if account == "service_account" else ["US-CA"])
    assert AuditEvent.objects.get(action="sso.signin.failed").reason == account


@pytest.mark.parametrize("claim", [42, {"name": "privacy-officers"}, True])
def test_a_groups_claim_of_another_shape_names_no_group(idp, claim):
    """The IdP signs the claim, but its shape is not ours to trust: no group, refused as one
    (it was a 500)."""
    idp.user["groups"] = claim
    response, _ = _sign_in(Client(), idp)
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/"
    assert AuditEvent.objects.filter(action="sso.signin.failed", reason="no_mapped_role").exists()
