"""The admin home page is the privacy officer's workspace, limited to their regions."""

import pytest

from audit.actors import Actor
from consent.models import Purpose
from consent.services import consent_record
from dsar import services
from tests.factories import make_staff, make_subject

SYSTEM = Actor.system("tests")


@pytest.fixture
def desk(regimes, roles):
    for region in ("EU", "EU", "US-CA"):
        subject = make_subject(region=region)
        services.request_create(
            kind="erasure", channel="api", actor=SYSTEM, subject=subject, verification="service"
        )
        consent_record(
            purpose=Purpose.objects.get(slug="analytics"),
            state="granted" if region == "EU" else "denied",
            channel="api",
            actor=SYSTEM,
            subject=subject,
        )


def test_an_eu_officer_sees_the_eu_queue_and_eu_consent_rates_only(client, desk):
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    response = client.get("/admin/")
    assert response.status_code == 200
    workspace = response.context["workspace"]
    assert workspace["requests"]["open"] == 2
    assert workspace["requests"]["awaiting_approval"] == 2
    assert workspace["consent_now"]["regions"] == ["EU"]
    analytics = next(r for r in workspace["consent_now"]["rows"] if r["purpose"] == "analytics")
    assert analytics["cells"] == [{"total": 2, "rate": 100}]
    assert [s["purpose"] for s in workspace["consent_chart"]["lines"]] == ["analytics"]
    page = response.content.decode()
    assert "Requests by deadline" in page
    assert "<polyline" in page


def test_a_dpo_sees_every_region(client, desk):
    client.force_login(make_staff("DPO"))
    workspace = client.get("/admin/").context["workspace"]
    assert workspace["requests"]["open"] == 3
    assert workspace["consent_now"]["regions"] == ["EU", "US-CA"]


def test_a_marketing_analyst_sees_consent_aggregates_but_no_request(client, desk):
    client.force_login(make_staff("Marketing analyst"))
    workspace = client.get("/admin/").context["workspace"]
    assert workspace["requests"]["open"] == 0
    assert workspace["requests"]["next_due"] == []
    assert workspace["consent_now"]["regions"] == ["EU", "US-CA"]


def test_a_subjects_timeline_shows_events_consent_and_requests_in_scope_only(client, desk):
    from dsar.models import DataSubjectRequest

    officer = make_staff("Privacy officer", regions=["EU"])
    eu = DataSubjectRequest.objects.filter(region="EU").first().subject
    ca = DataSubjectRequest.objects.filter(region="US-CA").first().subject
    client.force_login(officer)
    page = client.get(f"/admin/subject-timeline/{eu.pk}/")
    assert page.status_code == 200
    kinds = {e["kind"] for e in page.context["entries"]}
    assert kinds >= {"consent", "request", "access"}
    assert client.get(f"/admin/subject-timeline/{ca.pk}/").status_code == 404
    golden = client.get(f"/admin/profiles/subject/{eu.pk}/change/").content.decode()
    assert f"/admin/subject-timeline/{eu.pk}/" in golden


def test_the_consent_chart_narrows_to_one_region_in_scope_only(client, desk):
    client.force_login(make_staff("DPO"))
    eu = client.get("/admin/", {"region": "EU"}).context["workspace"]
    assert eu["chart_region"] == "EU"
    assert [line["last"] for line in eu["consent_chart"]["lines"]] == [100]
    ca = client.get("/admin/", {"region": "US-CA"}).context["workspace"]
    assert [line["last"] for line in ca["consent_chart"]["lines"]] == [0]

    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    outside = client.get("/admin/", {"region": "US-CA"}).context["workspace"]
    assert outside["chart_region"] is None  # not theirs: back to their own regions
    assert [line["last"] for line in outside["consent_chart"]["lines"]] == [100]
