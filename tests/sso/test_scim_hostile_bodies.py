"""SCIM bodies are read under the API's JSON rules: nesting past the limit, a NUL, a lone
surrogate or NaN is a SCIM 400, on every method. Deep nesting was a 500 (RecursionError), a
lone surrogate in userName a 500 (UnicodeEncodeError at the database), and a NUL was stored
in a staff user's name on SQLite (PostgreSQL refuses it: a 500 there)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db
SCIM = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim(scim_user):
    return scim_user


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("[" * 50_000 + "]" * 50_000, "JSON nested deeper than"),
        ('{"userName": "a\\ud800@corp.example"}', "Text must be valid Unicode"),
        ('{"userName": "a\\u0000b@corp.example"}', "Text must be valid Unicode"),
        ('{"userName": "nan@corp.example", "active": NaN}', "The body is not JSON."),
    ],
)
@pytest.mark.parametrize("method", ["post", "put"])
def test_a_hostile_body_is_a_scim_400(scim, body, detail, method):
    client, user = scim
    path = "/scim/v2/Users" if method == "post" else f"/scim/v2/Users/{user}"
    names_before = sorted(get_user_model().objects.values_list("username", flat=True))
    response = getattr(client, method)(path, body, content_type=SCIM)
    assert response.status_code == 400
    error = response.json()
    assert error["schemas"] == [ERROR_SCHEMA]
    assert error["scimType"] == "invalidSyntax"
    assert error["detail"].startswith(detail)
    assert sorted(get_user_model().objects.values_list("username", flat=True)) == names_before
