"""The access matrix for staff who came through single sign-on: a user provisioned by the
OpenID provider (JIT, role and regions from the group mapping) sees exactly what a local
user of the same role and regions sees, on every endpoint and admin page of the matrix."""

import urllib.parse

import pytest
from django.test import Client

from tests.access.matrix import MATRIX
from tests.access.test_matrix import subjects  # noqa: F401 - fixture
from tests.sso.conftest import idp, idp_server  # noqa: F401 - fixtures

# The regional role on both sides of its scope, and an all-regions role.
SSO_CASES = [
    ("Privacy officer", "privacy-officers", "in"),
    ("Privacy officer", "privacy-officers", "out"),
    ("Auditor", "auditors", "out"),
]


def _sso_client(idp, group: str) -> Client:  # noqa: F811
    idp.user = {"sub": f"sso-{group}", "email": f"{group}@corp.example", "groups": [group]}
    client = Client()
    start = client.get("/sso/oidc/corp/start/")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["Location"]).query))
    back = urllib.parse.urlsplit(idp.authorize(params))
    assert client.get(back.path + "?" + back.query)["Location"] == "/admin/"
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "group", "scope"), SSO_CASES)
def test_sso_provisioned_staff_follow_the_matrix_of_their_mapped_role(
    role,
    group,
    scope,
    subjects,  # noqa: F811
    idp,  # noqa: F811
):
    client = _sso_client(idp, group)
    column = 0 if scope == "in" else 1
    observed = {
        endpoint: observe(client, subjects[scope]) for endpoint, (observe, _) in MATRIX.items()
    }
    expected = {endpoint: table[role][column] for endpoint, (_, table) in MATRIX.items()}
    assert observed == expected
