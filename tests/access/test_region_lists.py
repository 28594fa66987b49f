"""Lists of rows that name the regions they concern are filtered like subjects: an officer
limited to some regions sees only the API tokens reaching none outside theirs and the import
jobs of their regions. Token names, scopes and service accounts, import file names and their
creators are not for officers of other regions (they could neither revoke nor delete them)."""

from __future__ import annotations

import pytest

from access.roles import DPO
from profiles.models import ImportJob
from tests.factories import make_staff, make_token, signed_in

pytestmark = pytest.mark.django_db


def _named_token(name: str, regions: list[str] | None):
    token, _ = make_token(["profiles:read"], regions=regions)
    token.name = name
    token.save(update_fields=["name"])
    return token


@pytest.fixture
def tokens(roles):
    return {
        "eu": _named_token("eu-crm-sync", ["EU"]),
        "ca": _named_token("california-crm-sync", ["US-CA"]),
        "both": _named_token("eu-and-ca-sync", ["EU", "US-CA"]),
        "everywhere": _named_token("global-warehouse", None),
    }


def test_a_limited_officer_lists_only_the_tokens_within_their_regions_in_the_api(api, tokens):
    api.force_authenticate(make_staff(DPO, regions=["EU"]))
    r = api.get("/api/v1/access/tokens/")
    assert r.status_code == 200, r.content
    assert {t["name"] for t in r.json()} == {"eu-crm-sync"}


def test_an_officer_of_every_region_lists_every_token_in_the_api(api, tokens):
    api.force_authenticate(make_staff(DPO))
    names = {t["name"] for t in api.get("/api/v1/access/tokens/").json()}
    assert names == {"eu-crm-sync", "california-crm-sync", "eu-and-ca-sync", "global-warehouse"}


def test_a_token_of_a_limited_service_account_is_listed_to_the_officers_of_its_reach(api, roles):
    """An every-region token of an EU service account reaches the EU only."""
    token = _named_token("eu-account-token", None)
    scope = token.user.region_scope
    scope.all_regions, scope.regions = False, ["EU"]
    scope.save()
    api.force_authenticate(make_staff(DPO, regions=["EU"]))
    assert [t["name"] for t in api.get("/api/v1/access/tokens/").json()] == ["eu-account-token"]


def test_a_limited_officer_lists_and_opens_only_the_tokens_within_their_regions_in_the_admin(
    tokens,
):
    client = signed_in(make_staff(DPO, regions=["EU"]))
    page = client.get("/admin/access/apitoken/").content.decode()
    assert "eu-crm-sync" in page
    for hidden in ("california-crm-sync", "eu-and-ca-sync", "global-warehouse"):
        assert hidden not in page
    searched = client.get("/admin/access/apitoken/?q=california").content.decode()
    assert "california-crm-sync" not in searched
    opened = client.get(f"/admin/access/apitoken/{tokens['ca'].pk}/change/", follow=True)
    assert "california-crm-sync" not in opened.content.decode()
    everywhere = signed_in(make_staff(DPO)).get("/admin/access/apitoken/").content.decode()
    assert "california-crm-sync" in everywhere
    assert "global-warehouse" in everywhere


@pytest.fixture
def jobs(db):
    return {
        "eu": ImportJob.objects.create(
            file_name="eu-loyalty.ndjson", regions=["EU"], created_by="a"
        ),
        "ca": ImportJob.objects.create(
            file_name="california-leads.ndjson", regions=["US-CA"], created_by="b"
        ),
        "all": ImportJob.objects.create(
            file_name="global-crm.ndjson", regions=None, created_by="c"
        ),
    }


def test_a_limited_officer_lists_only_the_import_jobs_of_their_regions(roles, jobs):
    client = signed_in(make_staff(DPO, regions=["EU"]))
    page = client.get("/admin/profiles/importjob/").content.decode()
    assert str(jobs["eu"].pk) in page
    assert str(jobs["ca"].pk) not in page
    assert str(jobs["all"].pk) not in page
    opened = client.get(f"/admin/profiles/importjob/{jobs['ca'].pk}/change/", follow=True)
    assert "california-leads" not in opened.content.decode()
    everywhere = signed_in(make_staff(DPO)).get("/admin/profiles/importjob/").content.decode()
    assert all(str(job.pk) in everywhere for job in jobs.values())
