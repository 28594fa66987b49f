"""Whoever issues an API token is shown its secret, and a token reaches its regions narrowed by
its service account's (a service account of every region is common): an officer limited to
some regions issues tokens of those regions only, in the admin and the API. An EU-limited DPO
could otherwise issue themselves an every-region token and read every Californian's profile
through the API."""

from __future__ import annotations

import re

import pytest

from access.models import ApiToken
from tests.factories import make_staff, make_subject

pytestmark = pytest.mark.django_db


def _admin_add(client, service, **over):
    data = {
        "user": service.pk,
        "name": "crm sync",
        "scopes": ["profiles:read"],
        "all_regions": "",
        "regions": "",
        "expires_at_0": "",
        "expires_at_1": "",
        **over,
    }
    return client.post("/admin/access/apitoken/add/", {k: v for k, v in data.items() if v != ""})


@pytest.fixture
def service(roles):
    return make_staff("Service account", is_staff=False)  # sees every region


@pytest.mark.parametrize("over", [{"all_regions": "on"}, {"regions": "EU, us-ca"}])
def test_a_limited_officer_issues_no_token_reaching_another_region_in_the_admin(
    client, service, over
):
    client.force_login(make_staff("DPO", regions=["EU"]))
    r = _admin_add(client, service, **over)
    assert r.status_code == 200
    page = r.content.decode()
    assert "regions you see yourself" in page or "outside your regions: US-CA" in page
    assert not ApiToken.objects.exists()


def test_a_limited_officer_issues_a_token_of_their_own_regions(client, service):
    client.force_login(make_staff("DPO", regions=["EU"]))
    r = _admin_add(client, service, regions="eu")
    assert r.status_code == 302, r.content
    token = ApiToken.objects.get()
    assert (token.all_regions, token.regions) == (False, ["EU"])


def test_a_limited_officer_issues_no_every_region_token_through_the_api(api, service):
    api.force_authenticate(make_staff("DPO", regions=["EU"]))
    body = {"user": service.pk, "name": "x", "scopes": ["profiles:read"], "all_regions": True}
    r = api.post("/api/v1/access/tokens/", body, format="json")
    assert r.status_code == 403, r.content
    assert r.json()["error"]["code"] == "region_not_allowed"
    assert not ApiToken.objects.exists()
    body = {"user": service.pk, "name": "x", "scopes": ["profiles:read"], "regions": ["US-CA"]}
    assert api.post("/api/v1/access/tokens/", body, format="json").status_code == 403
    assert not ApiToken.objects.exists()
    assert "token" not in r.json()


def test_an_officer_of_every_region_issues_an_every_region_token(api, service):
    ca = make_subject(region="US-CA", email="liam.reach@example.org")
    api.force_authenticate(make_staff("DPO"))
    body = {"user": service.pk, "name": "x", "scopes": ["profiles:read"], "all_regions": True}
    r = api.post("/api/v1/access/tokens/", body, format="json")
    assert r.status_code == 201, r.content
    api.force_authenticate(None)
    read = api.get(
        f"/api/v1/profiles/subjects/{ca.pk}/", HTTP_AUTHORIZATION=f"Bearer {r.json()['token']}"
    )
    assert read.status_code == 200


def _choices(page: str) -> set[str]:
    """The usernames offered in the add form's user choice."""
    return set(re.findall(r'<option value="\d+">([^<]+)</option>', page))


def test_a_limited_officer_sees_and_names_only_service_accounts_within_their_regions(
    client, service
):
    eu_service = make_staff("Service account", regions=["EU"], is_staff=False)
    ca_service = make_staff("Service account", regions=["US-CA"], is_staff=False)
    make_staff("Service account", regions=["EU", "US-CA"], is_staff=False)  # reaches US-CA too
    client.force_login(make_staff("DPO", regions=["EU"]))
    page = client.get("/admin/access/apitoken/add/").content.decode()
    assert _choices(page) == {service.username, eu_service.username}
    r = _admin_add(client, ca_service, regions="EU")
    assert r.status_code == 200
    assert "Select a valid choice" in r.content.decode()
    assert ca_service.username not in _choices(r.content.decode())
    assert not ApiToken.objects.exists()
    assert _admin_add(client, eu_service, regions="EU").status_code == 302


def test_an_officer_of_every_region_sees_every_service_account(client, service):
    ca_service = make_staff("Service account", regions=["US-CA"], is_staff=False)
    client.force_login(make_staff("DPO"))
    page = client.get("/admin/access/apitoken/add/").content.decode()
    assert _choices(page) == {service.username, ca_service.username}


def test_the_api_answers_another_regions_service_account_as_missing(api, service):
    ca_service = make_staff("Service account", regions=["US-CA"], is_staff=False)
    api.force_authenticate(make_staff("DPO", regions=["EU"]))
    body = {"user": ca_service.pk, "name": "x", "scopes": ["profiles:read"], "regions": ["EU"]}
    r = api.post("/api/v1/access/tokens/", body, format="json")
    assert r.status_code == 404, r.content
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("over", "shown"),
    [
        ({"regions": "XX, eu"}, "unknown: XX"),
        ({"regions": ""}, "required unless all_regions"),
        ({"regions": " , "}, "required unless all_regions"),
    ],
)
def test_unknown_or_missing_regions_are_a_form_error_not_a_500(client, service, over, shown):
    client.force_login(make_staff("DPO"))
    r = _admin_add(client, service, **over)
    assert r.status_code == 200
    assert shown in r.content.decode()
    assert not ApiToken.objects.exists()
