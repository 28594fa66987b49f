"""The daily retention run applies every active policy to the region it names (every region
when it names none) on its own authority, whoever wrote the policy: an officer limited to some
regions writes and changes policies of those regions only. An EU-limited officer could
otherwise add a one-day policy for US-CA (or for every region) and have the daily run delete
every Californian's events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from access.roles import PRIVACY_OFFICER
from consent import tasks
from consent.models import RetentionPolicy
from profiles.models import Event
from profiles.services import event_dedup_key
from tests.factories import make_staff, make_subject, signed_in

pytestmark = pytest.mark.django_db
ADD = "/admin/consent/retentionpolicy/add/"


def _form(**over) -> dict:
    data = {
        "name": "Short",
        "target": "events",
        "data_category": "",
        "event_name": "",
        "region": "EU",
        "max_age_days": 1,
        "action": "delete",
        "description": "",
        "active": "on",
    }
    return {**data, **over}


@pytest.fixture
def ca_event(roles):
    subject = make_subject(region="US-CA", email="liam.keeps@example.org")
    when = timezone.now() - dt.timedelta(days=30)
    return Event.objects.create(
        subject=subject,
        name="order",
        payload={},
        category="behavioral",
        occurred_at=when,
        dedup_key=event_dedup_key("order", when, {}),
    )


@pytest.mark.parametrize("region", ["US-CA", ""])
def test_a_limited_officer_cannot_write_a_policy_for_another_or_every_region(ca_event, region):
    eu = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    r = eu.post(ADD, _form(region=region))
    assert r.status_code == 200
    assert "Outside your regions" in r.content.decode()
    assert not RetentionPolicy.objects.exists()
    tasks.retention_enforce()
    assert Event.objects.filter(pk=ca_event.pk).exists()


def test_a_limited_officer_cannot_change_or_delete_another_regions_policy(ca_event):
    policy = RetentionPolicy.objects.create(
        name="CA orders", target="events", region="US-CA", max_age_days=3650
    )
    everywhere = RetentionPolicy.objects.create(
        name="Everyone", target="events", region="", max_age_days=3650
    )
    eu = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    for row in (policy, everywhere):
        url = f"/admin/consent/retentionpolicy/{row.pk}/change/"
        assert eu.get(url).status_code == 200  # viewed, read-only
        changed = eu.post(url, _form(name=row.name, region=row.region))
        assert changed.status_code == 403
        row.refresh_from_db()
        assert row.max_age_days == 3650
    tasks.retention_enforce()
    assert Event.objects.filter(pk=ca_event.pk).exists()


def test_a_limited_officer_writes_policies_of_their_own_region(roles):
    eu = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    r = eu.post(ADD, _form(max_age_days=365))
    assert r.status_code == 302, r.content
    policy = RetentionPolicy.objects.get()
    r = eu.post(f"/admin/consent/retentionpolicy/{policy.pk}/change/", _form(max_age_days=400))
    assert r.status_code == 302, r.content
    policy.refresh_from_db()
    assert (policy.region, policy.max_age_days) == ("EU", 400)


def test_an_officer_of_every_region_writes_a_policy_for_every_region(roles):
    officer = signed_in(make_staff(PRIVACY_OFFICER))
    assert officer.post(ADD, _form(region="", max_age_days=3650)).status_code == 302
    assert RetentionPolicy.objects.get().region == ""


def test_a_limited_officer_lists_only_the_retention_runs_of_their_regions(roles):
    """A run's counts per region and its runner are for staff covering the runner's regions."""
    from consent.models import RetentionRun

    policy = RetentionPolicy.objects.create(
        name="old events", target="events", max_age_days=30, action="delete"
    )
    now = timezone.now()

    def run(regions, label):
        return RetentionRun.objects.create(
            policy=policy,
            dry_run=False,
            action="delete",
            cutoff=now - dt.timedelta(days=30),
            regions=regions,
            counts=dict.fromkeys(regions or ["EU", "US-CA"], 3),
            actor_label=label,
            started_at=now,
        )

    run(["EU"], "eu-runner")
    run(["US-CA"], "california-runner")
    run(None, "global-runner")
    page = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"])).get(
        "/admin/consent/retentionrun/"
    )
    text = page.content.decode()
    assert "eu-runner" in text
    assert "california-runner" not in text
    assert "global-runner" not in text
    everywhere = (
        signed_in(make_staff(PRIVACY_OFFICER)).get("/admin/consent/retentionrun/").content.decode()
    )
    assert "california-runner" in everywhere
    assert "global-runner" in everywhere
