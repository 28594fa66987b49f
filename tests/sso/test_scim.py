"""SCIM 2.0: create, update, deactivate a user, change group membership; a deactivated user's
session and API token stop working on the next request."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from access.models import ApiToken, RegionScope
from access.roles import AUDITOR, PRIVACY_OFFICER
from access.tokens import new_token
from audit.actors import Actor
from audit.models import AuditEvent
from sso.services import scim_token_issue

pytestmark = pytest.mark.django_db
SCIM = "application/scim+json"


@pytest.fixture
def scim(idp):
    raw = scim_token_issue(provider=idp.row, actor=Actor.system("test"))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def call(method, path, body=None):
        data = json.dumps(body) if body is not None else ""
        response = getattr(client, method)(f"/scim/v2/{path}", data=data, content_type=SCIM)
        return response.status_code, (response.json() if response.content else None)

    return call


def _new_user(scim, name="dora@corp.example"):
    status, body = scim(
        "post",
        "Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
            "externalId": "ext-dora",
            "emails": [{"value": name, "primary": True}],
            "active": True,
        },
    )
    assert status == 201
    return body


def _roles(user):
    return set(user.groups.values_list("name", flat=True))


def test_without_the_scim_token_nothing_is_served(idp):
    assert Client().get("/scim/v2/Users").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer scim_wrong").get("/scim/v2/Users").status_code == 401


def test_create_find_and_update_a_user(scim):
    body = _new_user(scim)
    user = get_user_model().objects.get(email="dora@corp.example")
    assert user.is_staff
    assert user.is_active
    assert _roles(user) == set()
    status, found = scim("get", 'Users?filter=userName eq "dora@corp.example"')
    assert status == 200
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == body["id"]
    status, updated = scim(
        "put",
        f"Users/{body['id']}",
        {
            "userName": "dora@corp.example",
            "emails": [{"value": "dora.p@corp.example"}],
            "active": True,
        },
    )
    assert status == 200
    assert updated["emails"][0]["value"] == "dora.p@corp.example"
    assert AuditEvent.objects.filter(action="sso.user.provision", object_id=str(user.pk)).exists()


def test_group_membership_grants_and_removes_the_mapped_role(scim):
    body = _new_user(scim)
    status, group = scim(
        "post", "Groups", {"displayName": "privacy-officers", "members": [{"value": body["id"]}]}
    )
    assert status == 201
    assert group["members"] == [{"value": body["id"]}]
    user = get_user_model().objects.get(email="dora@corp.example")
    assert _roles(user) == {PRIVACY_OFFICER}
    assert RegionScope.objects.get(user=user).regions == ["EU"]
    status, auditors = scim("post", "Groups", {"displayName": "auditors"})
    scim(
        "patch",
        f"Groups/{auditors['id']}",
        {"Operations": [{"op": "add", "path": "members", "value": [{"value": body["id"]}]}]},
    )
    scim(
        "patch",
        f"Groups/{group['id']}",
        {"Operations": [{"op": "remove", "path": f'members[value eq "{body["id"]}"]'}]},
    )
    assert _roles(user) == {AUDITOR}
    assert RegionScope.objects.get(user=user).all_regions


def test_a_deactivated_user_loses_session_and_api_tokens_at_once(scim, idp):
    import urllib.parse

    # dora signs in through the IdP: she has a session in the admin
    idp.user = {"sub": "ext-dora", "email": "dora@corp.example", "groups": ["privacy-officers"]}
    body = _new_user(scim)
    browser = Client()
    start = browser.get("/sso/oidc/corp/start/")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))
    back = urllib.parse.urlsplit(idp.authorize(params))
    assert browser.get(back.path + "?" + back.query)["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200
    user = get_user_model().objects.get(email="dora@corp.example")
    raw, prefix, digest = new_token()
    ApiToken.objects.create(
        user=user,
        name="t",
        token_prefix=prefix,
        token_hash=digest,
        scopes=["profiles:read"],
        all_regions=True,
    )

    status, after = scim(
        "patch",
        f"Users/{body['id']}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
    )
    assert status == 200
    assert after["active"] is False
    assert browser.get("/admin/").status_code == 302  # back to the login page
    assert ApiToken.objects.get(token_prefix=prefix).revoked_at is not None
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/profiles/subjects/").status_code in (401, 403)
    assert _roles(user) == set()
    assert AuditEvent.objects.filter(action="sso.user.deprovision", object_id=str(user.pk)).exists()
    # and signing in through the IdP again is refused while deactivated
    again = Client()
    start = again.get("/sso/oidc/corp/start/")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))
    back = urllib.parse.urlsplit(idp.authorize(params))
    assert again.get(back.path + "?" + back.query)["Location"] == "/admin/login/"
    assert AuditEvent.objects.filter(action="sso.signin.failed", reason="inactive").exists()


def test_delete_deprovisions_the_user(scim):
    body = _new_user(scim)
    status, _ = scim("delete", f"Users/{body['id']}")
    assert status == 204
    assert not get_user_model().objects.get(email="dora@corp.example").is_active


def test_azure_and_okta_style_user_patches_change_the_address_and_state(scim):
    body = _new_user(scim)
    user = get_user_model().objects.get(email="dora@corp.example")
    status, after = scim(
        "patch",
        f"Users/{body['id']}",
        {
            "Operations": [
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": "d@corp.example",
                },
                {"op": "Replace", "path": "name.givenName", "value": "Dora"},  # not kept: ignored
                {"op": "Replace", "path": "active", "value": "False"},  # Azure sends strings
            ]
        },
    )
    assert status == 200, after
    assert after["emails"][0]["value"] == "d@corp.example"
    user.refresh_from_db()
    assert (user.email, user.is_active) == ("d@corp.example", False)
    status, after = scim(
        "patch",
        f"Users/{body['id']}",
        {"Operations": [{"op": "replace", "value": {"active": True}}]},
    )
    assert (status, after["active"]) == (200, True)


def test_group_patches_replace_members_rename_and_empty_the_group(scim):
    dora = _new_user(scim)
    _, eve = scim("post", "Users", {"userName": "eve@corp.example", "externalId": "ext-eve"})
    _, group = scim(
        "post", "Groups", {"displayName": "auditors", "members": [{"value": dora["id"]}]}
    )
    users = get_user_model().objects
    scim(
        "patch",
        f"Groups/{group['id']}",
        {"Operations": [{"op": "replace", "path": "members", "value": [{"value": eve["id"]}]}]},
    )
    assert _roles(users.get(email="dora@corp.example")) == set()
    assert _roles(users.get(email="eve@corp.example")) == {AUDITOR}
    # renamed to a group the mapping gives another role: the member's role follows at once
    status, renamed = scim(
        "patch",
        f"Groups/{group['id']}",
        {
            "Operations": [
                {"op": "replace", "value": {"id": group["id"], "displayName": "privacy-officers"}}
            ]
        },
    )
    assert (status, renamed["displayName"]) == (200, "privacy-officers")
    assert renamed["members"] == [{"value": eve["id"]}]
    assert _roles(users.get(email="eve@corp.example")) == {PRIVACY_OFFICER}
    assert AuditEvent.objects.filter(action="sso.group.rename").exists()
    scim("patch", f"Groups/{group['id']}", {"Operations": [{"op": "remove", "path": "members"}]})
    assert _roles(users.get(email="eve@corp.example")) == set()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "Users", []),
        ("post", "Users", {"userName": {"x": 1}}),
        ("post", "Users", {"userName": "x@corp.example", "active": "maybe"}),
        ("post", "Users", {"userName": "x@corp.example", "emails": "x@corp.example"}),
        ("post", "Users", {"userName": "x@corp.example", "emails": [{"value": "not an address"}]}),
        ("patch", "Users/{user}", {"Operations": "replace"}),
        ("patch", "Users/{user}", {"Operations": []}),
        ("patch", "Users/{user}", {"Operations": [["replace"]]}),
        ("patch", "Users/{user}", {"Operations": [{"op": "move", "path": "active"}]}),
        ("patch", "Users/{user}", {"Operations": [{"op": "replace", "path": 7, "value": 1}]}),
        ("patch", "Users/{user}", {"Operations": [{"op": "replace", "value": "False"}]}),
        (
            "patch",
            "Users/{user}",
            {"Operations": [{"op": "replace", "path": "active", "value": 2}]},
        ),
        ("patch", "Users/{user}", {"Operations": [{"op": "remove", "path": "active"}]}),
        (
            "patch",
            "Users/{user}",
            {"Operations": [{"op": "replace", "path": "externalId", "value": "y"}]},
        ),
        ("put", "Users/{user}", {"active": "sometimes"}),
        ("post", "Groups", {"displayName": ["a"]}),
        ("post", "Groups", {"displayName": "g", "members": ["1"]}),
        (
            "patch",
            "Groups/{group}",
            {"Operations": [{"op": "add", "path": "members", "value": "1"}]},
        ),
        (
            "patch",
            "Groups/{group}",
            {"Operations": [{"op": "add", "path": 'members[value eq "1"]'}]},
        ),
        (
            "patch",
            "Groups/{group}",
            {"Operations": [{"op": "remove", "path": "members[value eq 1"}]},
        ),
        (
            "patch",
            "Groups/{group}",
            {"Operations": [{"op": "replace", "path": "displayName", "value": ""}]},
        ),
        (
            "patch",
            "Groups/{group}",
            {"Operations": [{"op": "replace", "path": "owner", "value": "x"}]},
        ),
    ],
)
def test_malformed_scim_requests_get_a_scim_error_never_a_500(scim, method, path, body):
    user = _new_user(scim)
    _, group = scim("post", "Groups", {"displayName": "auditors"})
    status, answer = scim(method, path.format(user=user["id"], group=group["id"]), body)
    assert status == 400, answer
    assert answer["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert answer["scimType"] in ("invalidSyntax", "invalidValue", "invalidPath", "mutability")


def test_a_patch_with_one_bad_operation_applies_none_of_them(scim):
    dora = _new_user(scim)
    _, group = scim("post", "Groups", {"displayName": "auditors"})
    status, _ = scim(
        "patch",
        f"Groups/{group['id']}",
        {
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": dora["id"]}]},
                {"op": "replace", "path": "owner", "value": "x"},
            ]
        },
    )
    assert status == 400
    assert _roles(get_user_model().objects.get(email="dora@corp.example")) == set()


@pytest.mark.parametrize("account", ["superuser", "service_account"])
def test_a_scim_client_never_takes_an_account_it_may_not_manage(scim, account):
    """A SCIM user created with the address of a local superuser or a service account was a
    500 (the sign-in's refusal was not caught); it is a 409 and nothing is linked or changed."""
    from tests.factories import make_staff

    held = (
        make_staff(None, email="dora@corp.example", is_superuser=True)
        if account == "superuser"
        else make_staff("Service account", email="dora@corp.example", is_staff=False)
    )
    status, body = scim(
        "post",
        "Users",
        {"userName": "dora@corp.example", "emails": [{"value": "dora@corp.example"}]},
    )
    assert status == 409, body
    assert body["scimType"] == "uniqueness"
    held.refresh_from_db()
    assert held.is_active
    assert not held.sso_identities.exists()
