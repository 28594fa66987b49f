"""Settings shared by every region (a purpose, a notice, the list of erased identities) are changed only by staff who see every region; settings naming the regions
they apply to, every region when they name none (a retention exception, a processing activity,
an import job), only by staff whose regions cover all of them. An EU-limited officer could
otherwise make a purpose "essential" (allowed without consent for every Californian), keep
every Californian's events through their erasure, or lift the suppression of a person erased in
another region."""

from __future__ import annotations

import pytest

from access.roles import DPO, PRIVACY_OFFICER
from consent.models import Notice, ProcessingActivity, Purpose
from dsar.models import RetentionException
from profiles.models import ImportJob, SuppressedIdentity
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def eu(roles, regimes):
    return signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))


@pytest.fixture
def everywhere(roles, regimes):
    return signed_in(make_staff(PRIVACY_OFFICER))


def _purpose_form(purpose: Purpose, **over) -> dict:
    data = {
        "slug": purpose.slug,
        "name": purpose.name,
        "description": purpose.description,
        "lawful_basis": purpose.lawful_basis,
    }
    return {**data, **over}


def test_a_limited_officer_cannot_make_a_purpose_of_every_region_essential(eu, everywhere):
    purpose = Purpose.objects.get(slug="analytics")
    url = f"/admin/consent/purpose/{purpose.pk}/change/"
    assert eu.get(url).status_code == 200  # viewed
    assert eu.post(url, _purpose_form(purpose, essential="on")).status_code == 403
    purpose.refresh_from_db()
    assert purpose.essential is False
    added = eu.post("/admin/consent/purpose/add/", _purpose_form(purpose, slug="mine"))
    assert added.status_code == 403
    assert not Purpose.objects.filter(slug="mine").exists()

    assert everywhere.post(url, _purpose_form(purpose, name="Statistics")).status_code == 302
    purpose.refresh_from_db()
    assert purpose.name == "Statistics"


def test_a_limited_officer_cannot_publish_a_notice_every_region_is_shown(eu, everywhere):
    analytics = Purpose.objects.get(slug="analytics")
    form = {"language": "en", "version": 99, "title": "T", "text": "X", "purposes": [analytics.pk]}
    assert eu.post("/admin/consent/notice/add/", form).status_code == 403
    assert not Notice.objects.filter(version=99).exists()
    assert everywhere.post("/admin/consent/notice/add/", form).status_code == 302
    assert Notice.objects.filter(version=99).exists()


def test_a_limited_dpo_cannot_lift_the_suppression_of_an_erased_identity(roles):
    row = SuppressedIdentity.objects.create(kind="email", value_index="a" * 64)
    url = f"/admin/profiles/suppressedidentity/{row.pk}/delete/"
    eu_dpo = signed_in(make_staff(DPO, regions=["EU"]))
    assert eu_dpo.post(url, {"post": "yes"}).status_code == 403
    bulk = eu_dpo.post(
        "/admin/profiles/suppressedidentity/",
        {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302, 403)
    assert SuppressedIdentity.objects.filter(pk=row.pk).exists()
    assert signed_in(make_staff(DPO)).post(url, {"post": "yes"}).status_code == 302
    assert not SuppressedIdentity.objects.filter(pk=row.pk).exists()


def _exception_form(**over) -> dict:
    data = {"event_prefix": "order.", "regions": '["EU"]', "reason": "tax law", "keep_days": "30"}
    return {**data, "active": "on", **over}


@pytest.mark.parametrize("regions", ["[]", '["US-CA"]', '["eu", "US-CA"]'])
def test_a_limited_officer_adds_no_retention_exception_reaching_another_region(eu, regions):
    response = eu.post("/admin/dsar/retentionexception/add/", _exception_form(regions=regions))
    assert response.status_code == 200
    assert "outside your regions" in response.content.decode().lower()
    assert not RetentionException.objects.exists()


def test_a_limited_officer_adds_a_retention_exception_of_their_regions(eu):
    response = eu.post("/admin/dsar/retentionexception/add/", _exception_form(regions='["eu"]'))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert RetentionException.objects.get().regions == ["EU"]


@pytest.mark.parametrize("regions", [[], ["US-CA"], ["EU", "US-CA"]])
def test_a_limited_officer_cannot_change_or_delete_another_regions_retention_exception(
    eu, everywhere, regions
):
    rule = RetentionException.objects.create(
        event_prefix="order.", regions=regions, reason="tax law", keep_days=30
    )
    url = f"/admin/dsar/retentionexception/{rule.pk}/"
    changed = eu.post(f"{url}change/", _exception_form(event_prefix="", keep_days="36500"))
    assert changed.status_code == 403
    assert eu.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    eu.post(
        "/admin/dsar/retentionexception/",
        {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"},
    )
    rule.refresh_from_db()
    assert (rule.event_prefix, rule.keep_days) == ("order.", 30)
    changed = everywhere.post(f"{url}change/", _exception_form(regions="[]", keep_days="60"))
    assert changed.status_code == 302, changed.content.decode()[:2000]
    rule.refresh_from_db()
    assert (rule.regions, rule.keep_days) == ([], 60)


def _activity_form(**over) -> dict:
    data = {
        "name": "Loyalty",
        "purpose": Purpose.objects.get(slug="personalization").pk,
        "lawful_basis": "consent",
        "active": "on",
        "regions": ["EU"],
        "transfers": "[]",
    }
    return {**data, **over}


@pytest.mark.parametrize("regions", [[], ["US-CA"]])
def test_a_limited_officer_cannot_change_an_activity_of_another_region(eu, regions):
    activity = ProcessingActivity.objects.create(
        name="Ads", purpose=Purpose.objects.get(slug="analytics"), regions=regions
    )
    url = f"/admin/consent/processingactivity/{activity.pk}/"
    assert eu.get(f"{url}change/").status_code == 200
    assert eu.post(f"{url}change/", _activity_form(name="Mine")).status_code == 403
    assert eu.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    activity.refresh_from_db()
    assert activity.name == "Ads"


@pytest.mark.parametrize("regions", [[], ["EU", "US-CA"]])
def test_a_limited_officer_adds_no_activity_reaching_another_region(eu, regions):
    response = eu.post("/admin/consent/processingactivity/add/", _activity_form(regions=regions))
    assert response.status_code == 200
    assert "outside your regions" in response.content.decode().lower()
    assert not ProcessingActivity.objects.exists()


def test_a_limited_officer_changes_an_activity_of_their_region(eu):
    activity = ProcessingActivity.objects.create(
        name="Ads", purpose=Purpose.objects.get(slug="analytics"), regions=["EU"]
    )
    url = f"/admin/consent/processingactivity/{activity.pk}/change/"
    response = eu.post(url, _activity_form(name="Loyalty EU"))
    assert response.status_code == 302, response.content.decode()[:2000]
    activity.refresh_from_db()
    assert activity.name == "Loyalty EU"


def test_a_limited_dpo_cannot_delete_another_regions_import_job(roles):
    job = ImportJob.objects.create(file_name="x.ndjson", regions=["US-CA"], created_by="dpo")
    url = f"/admin/profiles/importjob/{job.pk}/delete/"
    assert signed_in(make_staff(DPO, regions=["EU"])).post(url, {"post": "yes"}).status_code != 200
    assert ImportJob.objects.filter(pk=job.pk).exists()
    assert signed_in(make_staff(DPO)).post(url, {"post": "yes"}).status_code == 302


def test_only_an_officer_of_every_region_acknowledges_an_audit_alert(eu, everywhere):
    """An alert (a broken or cut audit chain, a break-glass sign-in) concerns every region:
    an EU-limited officer acknowledging it would close it for the officers who must act."""
    from audit.models import AuditAlert
    from audit.services import audit_alert_raise

    alert = audit_alert_raise(kind="chain_cut", message="head 41 missing", dedupe=False)
    form = {"action": "acknowledge", "_selected_action": [alert.pk]}
    eu.post("/admin/audit/auditalert/", form)
    assert AuditAlert.objects.get(pk=alert.pk).acknowledged_at is None
    everywhere.post("/admin/audit/auditalert/", form)
    assert AuditAlert.objects.get(pk=alert.pk).acknowledged_at is not None
