"""Retention policies: expired events and attributes are deleted or anonymised, in batches,
within the runner's regions, with an audit trail of counts and never of values."""

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEvent
from consent import tasks
from consent.demo import seed_retention_policies
from consent.models import RetentionPolicy, RetentionRun
from consent.retention import retention_counts, retention_run
from consent.schedule import BEAT_SCHEDULE
from profiles.models import Attribute, Event
from profiles.services import event_dedup_key
from tests.factories import make_staff, make_subject

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")
EU_EMAIL, EU_NAME = "amelie.retention@example.com", "Amelie Retentionova"
CA_EMAIL, CA_NAME = "liam.retention@example.org", "Liam Keepington"


def _event(subject, *, days_ago: int, name: str = "page_view", category: str = "behavioral"):
    when = timezone.now() - dt.timedelta(days=days_ago)
    payload = {"path": f"/orders/{days_ago}", "email": EU_EMAIL}
    return Event.objects.create(
        subject=subject,
        name=name,
        payload=payload,
        category=category,
        occurred_at=when,
        dedup_key=event_dedup_key(name, when, payload),
    )


@pytest.fixture
def people():
    return (
        make_subject(region="EU", email=EU_EMAIL, name=EU_NAME),
        make_subject(region="US-CA", email=CA_EMAIL, name=CA_NAME),
    )


@pytest.fixture
def events(people):
    eu, ca = people
    return {
        "eu_old": _event(eu, days_ago=800),
        "eu_fresh": _event(eu, days_ago=10),
        "eu_old_contact": _event(eu, days_ago=800, category="contact"),
        "ca_old": _event(ca, days_ago=900),
        "ca_fresh": _event(ca, days_ago=700),
    }


def _policy(**values) -> RetentionPolicy:
    policy = RetentionPolicy(name=values.pop("name", "policy"), **values)
    policy.full_clean()
    policy.save()
    return policy


def _behavioral_events_policy(**values) -> RetentionPolicy:
    return _policy(
        target="events", data_category="behavioral", max_age_days=730, action="delete", **values
    )


def _left(events) -> set[str]:
    return {k for k, e in events.items() if Event.objects.filter(pk=e.pk).exists()}


def test_a_run_deletes_expired_events_and_keeps_fresh_ones_in_every_region(events):
    report = retention_run(policy=_behavioral_events_policy(), dry_run=False, actor=SYSTEM)
    assert report.results[0].counts == {"EU": 1, "US-CA": 1}
    assert _left(events) == {"eu_fresh", "eu_old_contact", "ca_fresh"}


def test_a_regional_attribute_policy_leaves_other_regions_and_categories_alone(people):
    eu, ca = people
    Attribute.objects.filter(subject__in=people).update(
        collected_at=timezone.now() - dt.timedelta(days=1200)
    )
    Attribute.objects.filter(subject__in=people, key="name").update(category="behavioral")
    policy = _policy(
        name="EU behavioral",
        target="attributes",
        data_category="behavioral",
        region="EU",
        max_age_days=1095,
    )
    report = retention_run(policy=policy, dry_run=False, actor=SYSTEM)
    assert report.total == 1
    assert not Attribute.objects.filter(subject=eu, key="name").exists()
    assert Attribute.objects.filter(subject=ca, key="name").exists()


def test_a_dry_run_changes_nothing_and_reports_what_the_run_then_does(events):
    policy = _behavioral_events_policy()
    before = Event.objects.count()
    preview = retention_run(policy=policy, dry_run=True, actor=SYSTEM)
    assert Event.objects.count() == before
    assert not AuditEvent.objects.filter(action="consent.retention.apply").exists()
    assert RetentionRun.objects.get(dry_run=True).counts == {"EU": 1, "US-CA": 1}
    applied = retention_run(policy=policy, dry_run=False, actor=SYSTEM)
    assert preview.results[0].counts == applied.results[0].counts
    assert Event.objects.count() == before - 2


def test_the_run_leaves_an_audit_trail_per_region_without_personal_values(events):
    policy = _behavioral_events_policy()
    retention_run(policy=policy, dry_run=False, actor=SYSTEM)
    trail = AuditEvent.objects.filter(action="consent.retention.apply").order_by("region")
    assert [(e.region, e.object_id) for e in trail] == [
        ("EU", str(policy.pk)),
        ("US-CA", str(policy.pk)),
    ]
    assert trail[0].reason.startswith("events deleted: 1 (EU)")
    run = RetentionRun.objects.get(policy=policy)
    assert (run.dry_run, run.counts, run.actor_label) == (False, {"EU": 1, "US-CA": 1}, "tests")
    assert run.finished_at is not None
    policy.refresh_from_db()
    assert policy.last_run_at is not None
    dump = "\n".join(str(row) for row in AuditEvent.objects.values_list()).lower()
    dump += "\n".join(str(row) for row in RetentionRun.objects.values_list()).lower()
    for value in (EU_EMAIL, EU_NAME, CA_EMAIL, CA_NAME, "/orders/"):
        assert value.lower() not in dump


def test_anonymising_keeps_the_event_without_its_payload_and_with_the_month_only(events):
    policy = _policy(
        name="anonymise",
        target="events",
        max_age_days=730,
        action="anonymise",
        event_name="page_view",
    )
    report = retention_run(policy=policy, dry_run=False, actor=SYSTEM)
    assert report.results[0].counts == {"EU": 2, "US-CA": 1}
    old = Event.objects.select_related("subject").get(pk=events["eu_old"].pk)
    original = events["eu_old"].occurred_at
    assert old.payload == {}
    assert (old.name, old.category) == ("page_view", "behavioral")
    assert (old.occurred_at.year, old.occurred_at.month, old.occurred_at.day) == (
        original.year,
        original.month,
        1,
    )
    assert old.occurred_at.time() == dt.time(0, 0)
    assert old.dedup_key != events["eu_old"].dedup_key
    fresh = Event.objects.select_related("subject").get(pk=events["eu_fresh"].pk)
    assert fresh.payload["path"] == "/orders/10"
    assert retention_run(policy=policy, dry_run=False, actor=SYSTEM).total == 0  # once only


def test_a_run_works_in_small_batches(people):
    eu, _ = people
    for days in range(800, 807):
        _event(eu, days_ago=days)
    report = retention_run(
        policy=_behavioral_events_policy(), dry_run=False, actor=SYSTEM, batch_size=2
    )
    assert report.total == 7
    assert not Event.objects.filter(subject=eu).exists()


def test_a_run_limited_to_regions_leaves_the_others(events):
    report = retention_run(
        policy=_behavioral_events_policy(), dry_run=False, actor=SYSTEM, regions=["EU"]
    )
    assert report.results[0].counts == {"EU": 1}
    assert "ca_old" in _left(events)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"target": "attributes", "action": "anonymise"}, "action"),
        ({"target": "attributes", "event_name": "page_view"}, "event_name"),
        ({"target": "events", "data_category": "shoe size"}, "data_category"),
        ({"target": "events", "region": "Atlantis"}, "region"),
        ({"target": "events", "max_age_days": 0}, "max_age_days"),
    ],
)
def test_an_impossible_policy_is_refused(values, field):
    with pytest.raises(ValidationError) as error:
        _policy(**{"max_age_days": 30, **values})
    assert field in error.value.message_dict


def test_the_daily_task_applies_every_active_policy_and_only_those(events):
    _behavioral_events_policy(name="active")
    _policy(name="inactive", target="events", max_age_days=1, active=False)
    assert tasks.retention_enforce() == 2
    assert _left(events) == {"eu_fresh", "eu_old_contact", "ca_fresh"}
    assert BEAT_SCHEDULE["consent-retention-enforce"]["task"] == "consent.retention_enforce"
    assert AuditEvent.objects.filter(actor_label="consent.retention_enforce").count() == 2


def test_the_demo_policies_are_valid_and_seeded_once():
    seed_retention_policies(stdout=io.StringIO())
    seed_retention_policies(stdout=io.StringIO())
    assert RetentionPolicy.objects.count() == 2
    for policy in RetentionPolicy.objects.all():
        policy.full_clean()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_privacy_officer_previews_then_applies_within_their_regions(events, roles):
    policy = _behavioral_events_policy()
    client = _client(make_staff("Privacy officer", regions=["EU"]))
    preview = client.post(
        "/admin/consent/retentionpolicy/",
        {"action": "preview", "_selected_action": [policy.pk]},
    )
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "EU: 1" in page
    assert "US-CA" not in page
    assert "Apply now" in page
    assert _left(events) == set(events)
    applied = client.post("/admin/consent/retentionpolicy/apply/", {"policy": [policy.pk]})
    assert applied.status_code == 302
    assert _left(events) == {"eu_fresh", "eu_old_contact", "ca_old", "ca_fresh"}
    assert client.get("/admin/consent/retentionrun/").status_code == 200
    audit = AuditEvent.objects.get(action="consent.retention.apply")
    assert (audit.actor_type, audit.region) == ("user", "EU")


def test_apply_answers_only_posts(roles):
    client = _client(make_staff("Privacy officer", regions=["EU"]))
    assert client.get("/admin/consent/retentionpolicy/apply/").status_code == 405


@pytest.mark.parametrize("url", ["/admin/consent/retentionpolicy/", "/admin/consent/retentionrun/"])
def test_a_marketing_analyst_cannot_see_or_apply_retention(url, events, roles):
    policy = _behavioral_events_policy()
    client = _client(make_staff("Marketing analyst"))
    assert client.get(url).status_code == 403
    assert (
        client.post("/admin/consent/retentionpolicy/apply/", {"policy": [policy.pk]}).status_code
        == 403
    )
    assert _left(events) == set(events)


def test_a_period_beyond_a_century_is_a_form_error_not_a_500_in_the_preview(events, roles):
    """1,000,000 days before today is before year 1: the cutoff overflowed, and the preview
    (then every daily run) failed on the saved policy."""
    client = _client(make_staff("Privacy officer", regions=["EU"]))
    form = {"name": "forever", "target": "events", "region": "EU", "action": "delete"}
    added = client.post("/admin/consent/retentionpolicy/add/", {**form, "max_age_days": 1_000_000})
    assert added.status_code == 200
    assert "At most 36525 days (100 years)." in added.content.decode()
    assert not RetentionPolicy.objects.exists()
    added = client.post("/admin/consent/retentionpolicy/add/", {**form, "max_age_days": 36_525})
    assert added.status_code == 302
    policy = RetentionPolicy.objects.get()
    preview = client.post(
        "/admin/consent/retentionpolicy/",
        {"action": "preview", "_selected_action": [policy.pk]},
    )
    assert preview.status_code == 200
    assert "forever" in preview.content.decode()


def test_counts_are_given_per_region_of_the_subjects(events):
    assert retention_counts(policy=_behavioral_events_policy()) == {"EU": 1, "US-CA": 1}


def test_a_failing_policy_does_not_stop_the_others_in_the_daily_run(monkeypatch):
    from audit.actors import Actor
    from consent import retention
    from consent.models import RetentionPolicy

    first = RetentionPolicy.objects.create(
        name="broken", target="events", max_age_days=30, action="delete"
    )
    second = RetentionPolicy.objects.create(
        name="fine", target="events", max_age_days=30, action="delete"
    )
    real = retention._run_policy

    def flaky(policy, **kwargs):
        if policy.pk == first.pk:
            raise RuntimeError("boom")
        return real(policy, **kwargs)

    monkeypatch.setattr(retention, "_run_policy", flaky)
    report = retention.retention_run(dry_run=False, actor=Actor.system("beat"))
    assert report.failed == [first.pk]
    assert [r.policy_id for r in report.results] == [second.pk]
