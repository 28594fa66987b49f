"""Whatever an identity provider (or anyone holding its SCIM token) sends, SCIM answers with a
SCIM response or a SCIM error, never a 500: random JSON bodies on every method and path,
random filters and paging values. Two cases it found are pinned below."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db
SCIM = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
KEYS = ["op", "path", "value", "members", "displayName", "userName", "active", "emails"]
KEYS += ["Operations", "schemas", "externalId", "name", "groups", "primary", "type"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
PATHS = [
    "Users",
    "Groups",
    "Users/{user}",
    "Groups/{group}",
    "Users/x",
    "Groups/99999999999999999999",
    "Users/00000000-0000-0000-0000-000000000000",
]
FILTERS = ['userName eq "a"', "userName eq", 'emails[type eq "work"]', 'userName sw "', "("]


@pytest.fixture
def scim(scim_user):
    client, user = scim_user
    group = client.post(
        "/scim/v2/Groups", json.dumps({"displayName": "auditors"}), content_type=SCIM
    ).json()["id"]
    return client, {"user": user, "group": group}


@settings(
    max_examples=200, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(
    method=st.sampled_from(["post", "put", "patch", "get"]),
    path=st.sampled_from(PATHS),
    body=json_values,
    query=st.text(max_size=60) | st.sampled_from(FILTERS),
    number=st.text(max_size=5) | st.integers().map(str),
)
def test_random_scim_requests_never_get_a_500(scim, method, path, body, query, number):
    client, ids = scim
    url = "/scim/v2/" + path.format(**ids)
    if method == "get":
        response = client.get(url, {"filter": query, "startIndex": number, "count": number})
    else:
        response = getattr(client, method)(url, json.dumps(body), content_type=SCIM)
    assert response.status_code < 500, (method, url, response.content[:300])


def test_creating_at_a_group_s_own_address_is_a_scim_405(scim):
    client, ids = scim
    response = client.post(f"/scim/v2/Groups/{ids['group']}", "{}", content_type=SCIM)
    assert response.status_code == 405
    assert response.json()["schemas"] == [ERROR_SCHEMA]


def test_a_group_id_that_is_no_id_is_not_found(scim):
    client, _ = scim
    response = client.get("/scim/v2/Groups/99999999999999999999")
    assert response.status_code == 404
    assert response.json()["schemas"] == [ERROR_SCHEMA]
