"""SSO settings grant roles and regions at every sign-in: only officers who see every region
change them. An EU-limited DPO could otherwise map their own IdP group to every region, or
point the provider at an IdP they control, and sign in again with all of them."""

import pytest

from access.roles import DPO, PRIVACY_OFFICER
from sso.models import GroupMapping, IdentityProvider
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(roles):
    return IdentityProvider.objects.create(
        kind="oidc", name="Corp", slug="corp", issuer="https://idp.example", client_id="c"
    )


def _mapping_post(client, provider, **fields):
    data = {
        "provider": provider.pk,
        "value": "eu-officers",
        "role": PRIVACY_OFFICER,
        "regions": '["EU"]',
        **fields,
    }
    return client.post("/admin/sso/groupmapping/add/", data)


def test_an_officer_limited_to_some_regions_sees_sso_settings_but_cannot_change_them(provider):
    eu_dpo = signed_in(make_staff(DPO, regions=["EU"]))
    assert eu_dpo.get("/admin/sso/identityprovider/").status_code == 200
    assert eu_dpo.get(f"/admin/sso/identityprovider/{provider.pk}/change/").status_code == 200
    assert _mapping_post(eu_dpo, provider, all_regions="on").status_code == 403
    changed = eu_dpo.post(
        f"/admin/sso/identityprovider/{provider.pk}/change/",
        {"name": "Corp", "slug": "corp", "kind": "oidc", "issuer": "https://evil.example"},
    )
    assert changed.status_code == 403
    deleted = eu_dpo.post(f"/admin/sso/identityprovider/{provider.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert not GroupMapping.objects.exists()
    provider.refresh_from_db()
    assert provider.issuer == "https://idp.example"


def test_an_officer_of_every_region_maps_groups_to_known_regions(provider):
    dpo = signed_in(make_staff(DPO))
    assert _mapping_post(dpo, provider, regions='["eu", "US-CA", "EU"]').status_code == 302
    assert GroupMapping.objects.get().regions == ["EU", "US-CA"]


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ('"EU"', "A list of region codes"),
        ('["EU", 3]', "A list of region codes"),
        ('["Europe"]', "Unknown region: EUROPE"),
    ],
)
def test_a_mapping_of_regions_that_are_no_region_codes_is_refused(provider, regions, message):
    dpo = signed_in(make_staff(DPO))
    response = _mapping_post(dpo, provider, regions=regions)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not GroupMapping.objects.exists()


def _issue_scim_token(client, provider):
    return client.post(
        "/admin/sso/identityprovider/",
        {"action": "issue_scim_token", "_selected_action": [provider.pk]},
        follow=True,
    )


def test_an_officer_limited_to_some_regions_issues_no_scim_token(provider):
    """A SCIM token sets any identity's IdP groups, and so the roles and regions mapped to
    them, at once: an EU-limited DPO holding one could put their own identity in a group
    mapped to every region."""
    from sso.models import ScimToken

    page = _issue_scim_token(signed_in(make_staff(DPO, regions=["EU"])), provider)
    assert "SCIM token for corp" not in page.content.decode()
    assert not ScimToken.objects.exists()

    page = _issue_scim_token(signed_in(make_staff(DPO)), provider)
    assert "SCIM token for corp (copy it now)" in page.content.decode()
    assert ScimToken.objects.filter(provider=provider).count() == 1


@pytest.mark.parametrize(
    ("fields", "field_in_error"),
    [
        (
            {
                "kind": "saml",
                "entity_id": "https://idp.example/e",
                "sso_url": "https://idp.example/s",
            },
            "certificate",
        ),
        (
            {
                "kind": "saml",
                "entity_id": "https://idp.example/e",
                "sso_url": "https://idp.example/s",
                "certificate": "<b>not a certificate</b>",
            },
            "certificate",
        ),
        ({"kind": "saml", "certificate": "x"}, "sso_url"),
        ({"kind": "oidc", "issuer": "https://idp.example"}, "client_id"),
    ],
)
def test_an_enabled_provider_without_what_its_sign_in_needs_is_refused_by_the_form(
    roles, fields, field_in_error
):
    """A SAML provider saved without a certificate or SSO URL made every sign-in with it
    fail: the form refuses it while enabled (a provider being set up is saved disabled)."""
    dpo = signed_in(make_staff(DPO))
    data = {"name": "New IdP", "slug": "new", "enabled": "on", "groups_claim": "groups", **fields}
    data.update({f"mappings-{k}": v for k, v in {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0"}.items()})
    r = dpo.post("/admin/sso/identityprovider/add/", data)
    assert r.status_code == 200
    assert r.context["adminform"].form.errors.get(field_in_error), r.context[
        "adminform"
    ].form.errors
    assert not IdentityProvider.objects.filter(slug="new").exists()
    data.pop("enabled")  # saved while off: allowed, completed later
    assert dpo.post("/admin/sso/identityprovider/add/", data).status_code == 302
