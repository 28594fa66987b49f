"""Revoking a token cuts its service off from every region it reaches (its regions narrowed by
its service account's): an officer limited to some regions revokes only tokens reaching none
outside them, in the API and the admin, as they issue only those. An EU-limited DPO could
otherwise stop every Californian's opt-outs reaching the CRM."""

from __future__ import annotations

import pytest

from access.models import ApiToken
from access.roles import DPO
from tests.factories import make_staff, make_token, signed_in

pytestmark = pytest.mark.django_db


def _revoked(token: ApiToken) -> bool:
    token.refresh_from_db()
    return token.revoked_at is not None


@pytest.mark.parametrize("regions", [None, ["US-CA"], ["EU", "US-CA"]])
def test_a_limited_officer_cannot_revoke_a_token_reaching_another_region_through_the_api(
    api, regions
):
    token, _ = make_token(["profiles:read"], regions=regions)
    api.force_authenticate(make_staff(DPO, regions=["EU"]))
    r = api.post(f"/api/v1/access/tokens/{token.pk}/revoke/")
    assert r.status_code == 403, r.content
    assert r.json()["error"]["code"] == "region_not_allowed"
    assert not _revoked(token)


def test_a_limited_officer_revokes_a_token_of_their_regions_through_the_api(api):
    token, _ = make_token(["profiles:read"], regions=["EU"])
    api.force_authenticate(make_staff(DPO, regions=["EU", "GB"]))
    r = api.post(f"/api/v1/access/tokens/{token.pk}/revoke/")
    assert r.status_code == 200, r.content
    assert _revoked(token)


def test_an_every_region_token_of_a_limited_service_account_reaches_only_its_regions(api):
    """The token's reach is its regions narrowed by its user's: an every-region token of an
    EU service account reaches the EU only, so an EU officer may revoke it."""
    token, _ = make_token(["profiles:read"])
    scope = token.user.region_scope
    scope.all_regions, scope.regions = False, ["EU"]
    scope.save()
    api.force_authenticate(make_staff(DPO, regions=["EU"]))
    assert api.post(f"/api/v1/access/tokens/{token.pk}/revoke/").status_code == 200
    assert _revoked(token)


def test_the_admin_revokes_only_the_selected_tokens_of_the_officers_regions(roles):
    everywhere, _ = make_token(["profiles:read"])
    eu, _ = make_token(["profiles:read"], regions=["EU"])
    client = signed_in(make_staff(DPO, regions=["EU"]))
    r = client.post(
        "/admin/access/apitoken/",
        {"action": "revoke", "_selected_action": [everywhere.pk, eu.pk]},
        follow=True,
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert "1 token(s) revoked." in page  # the every-region token is not in their list at all
    assert (_revoked(everywhere), _revoked(eu)) == (False, True)


def test_an_officer_of_every_region_revokes_any_token_in_the_admin(roles):
    everywhere, _ = make_token(["profiles:read"])
    client = signed_in(make_staff(DPO))
    client.post(
        "/admin/access/apitoken/", {"action": "revoke", "_selected_action": [everywhere.pk]}
    )
    assert _revoked(everywhere)
