import pytest

from tests.sso.oidc_provider import OidcProvider


@pytest.fixture(scope="session")
def idp_server():
    server = OidcProvider().start()
    yield server
    server.stop()


@pytest.fixture
def idp(idp_server, db, roles):
    """The running test OpenID provider, reset, and its IdentityProvider row with mappings."""
    from access.roles import AUDITOR, PRIVACY_OFFICER
    from sso import oidc
    from sso.models import GroupMapping, IdentityProvider

    idp_server.user = {"sub": "u-1", "email": "alice@corp.example", "groups": ["privacy-officers"]}
    idp_server.tamper = {}
    idp_server.sign_with = None
    oidc._cache.clear()
    row = IdentityProvider(
        kind="oidc",
        name="Corp IdP",
        slug="corp",
        issuer=idp_server.issuer,
        client_id=idp_server.client_id,
    )
    row.set_client_secret(idp_server.client_secret)
    row.save()
    GroupMapping.objects.create(
        provider=row, value="privacy-officers", role=PRIVACY_OFFICER, regions=["EU"]
    )
    GroupMapping.objects.create(provider=row, value="auditors", role=AUDITOR, all_regions=True)
    idp_server.row = row
    return idp_server


@pytest.fixture
def scim_user(idp):
    """A SCIM client of the test IdP (its bearer token) and the id of a user it created."""
    import json

    from django.test import Client

    from audit.actors import Actor
    from sso.services import scim_token_issue

    raw = scim_token_issue(provider=idp.row, actor=Actor.system("test"))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    user = client.post(
        "/scim/v2/Users",
        json.dumps({"userName": "dora@corp.example", "emails": [{"value": "dora@corp.example"}]}),
        content_type="application/scim+json",
    ).json()["id"]
    return client, user
