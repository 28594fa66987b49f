"""The data map and the Art. 30 record: processing activities, their export, and their admin."""

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from audit.actors import Actor
from audit.models import AuditEvent
from consent.art30 import art30_record, data_map, processing_activities_for_subject
from consent.demo import seed_processing_activities
from consent.models import ProcessingActivity, Purpose
from consent.services import processing_activity_save
from profiles.models import System
from tests.factories import make_staff

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


@pytest.fixture
def systems():
    return {
        "crm": System.objects.create(
            name="CRM", kind="both", data_categories=["identity", "contact"], country="DE"
        ),
        "mail": System.objects.create(
            name="Mailer",
            kind="destination",
            data_categories=["contact"],
            country="US",
            is_processor=True,
        ),
        "pos": System.objects.create(name="Till", kind="source", data_categories=["behavioral"]),
    }


def _activity(name: str, purpose: str, systems: list, **values) -> ProcessingActivity:
    return processing_activity_save(
        activity=ProcessingActivity(name=name, purpose=Purpose.objects.get(slug=purpose), **values),
        actor=SYSTEM,
        systems=systems,
    )


@pytest.fixture
def activities(systems):
    newsletter = _activity(
        "Newsletter",
        "marketing_email",
        [systems["crm"], systems["mail"]],
        data_categories=["contact"],
        subject_categories=["customers", "prospects"],
        recipients=["e-mail service provider"],
        transfers=[{"country": "us", "safeguard": "sccs"}],
        retention="until consent is withdrawn",
        security_measures="encryption at rest",
    )
    fraud = _activity(
        "Fraud checks",
        "essential",
        [systems["crm"]],
        lawful_basis="legitimate_interests",
        data_categories=["identity", "behavioral"],
        subject_categories=["customers"],
        recipients=["payment provider"],
        retention="13 months",
        retention_days=395,
        regions=["US-CA"],
    )
    _activity("Old survey", "analytics", [], active=False, retention="6 months")
    return newsletter, fraud


def test_an_activity_without_a_lawful_basis_takes_its_purposes(activities):
    newsletter, fraud = activities
    assert newsletter.lawful_basis == "consent"
    assert fraud.lawful_basis == "legitimate_interests"


def test_saving_an_activity_is_audited_with_field_names_only(systems):
    activity = ProcessingActivity(name="Support", purpose=Purpose.objects.get(slug="essential"))
    processing_activity_save(activity=activity, actor=SYSTEM, changed=["name", "purpose"])
    event = AuditEvent.objects.get(action="consent.processing_activity.create")
    assert (event.object_id, event.fields) == (str(activity.pk), ["name", "purpose"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data_categories", ["contact", "shoe size"]),
        ("regions", ["EU", "Atlantis"]),
        ("transfers", [{"country": "US"}]),
        ("transfers", [{"country": "USA", "safeguard": "sccs"}]),
        ("recipients", "carriers"),
    ],
)
def test_unknown_categories_regions_and_transfers_without_safeguard_are_refused(field, value):
    activity = ProcessingActivity(
        name="Bad", purpose=Purpose.objects.get(slug="analytics"), **{field: value}
    )
    with pytest.raises(ValidationError) as error:
        processing_activity_save(activity=activity, actor=SYSTEM)
    assert field in error.value.message_dict
    assert not ProcessingActivity.objects.exists()


def test_the_art30_record_has_one_row_per_active_activity(activities, settings):
    settings.CUSTODIA_CONTROLLER = "Shop SAS"
    rows = {row["activity"]: row for row in art30_record()}
    assert sorted(rows) == ["Fraud checks", "Newsletter"]
    newsletter = rows["Newsletter"]
    assert newsletter["controller"] == "Shop SAS"
    assert newsletter["transfers"] == [{"country": "US", "safeguard": "sccs"}]
    assert newsletter["subject_categories"] == ["customers", "prospects"]
    assert newsletter["systems"] == ["CRM", "Mailer"]
    assert rows["Fraud checks"]["retention_days"] == 395


def test_the_data_map_shows_each_system_with_the_activities_and_recipients_it_feeds(activities):
    systems = {row["system"]: row for row in data_map()}
    assert [row["system"] for row in data_map()] == ["Till", "CRM", "Mailer"]  # sources first
    crm = systems["CRM"]
    assert [a["activity"] for a in crm["activities"]] == ["Fraud checks", "Newsletter"]
    assert crm["recipients"] == ["e-mail service provider", "payment provider"]
    assert systems["Till"]["activities"] == []
    fraud = crm["activities"][0]
    assert fraud["undeclared_categories"] == ["behavioral"]  # no system of it declares them


def test_a_subjects_export_lists_the_active_activities_of_their_region(activities):
    eu = processing_activities_for_subject(region="EU")
    assert [a["activity"] for a in eu] == ["Newsletter"]
    assert eu[0] == {
        "activity": "Newsletter",
        "purpose": "Marketing e-mails",
        "lawful_basis": "consent",
        "data_categories": ["contact"],
        "recipients": ["e-mail service provider"],
        "transfers": [{"country": "US", "safeguard": "sccs"}],
        "retention": "until consent is withdrawn",
        "systems": ["CRM", "Mailer"],
    }
    californian = processing_activities_for_subject(region="US-CA")
    assert [a["activity"] for a in californian] == ["Fraud checks", "Newsletter"]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_art30_csv_contains_each_activity_with_recipients_transfers_and_retention(
    activities, roles
):
    response = _client(make_staff("Privacy officer", regions=["EU"])).get(
        "/admin/consent/processingactivity/art30.csv"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = {row["Processing activity"]: row for row in csv.DictReader(io.StringIO(response.text))}
    assert sorted(rows) == ["Fraud checks", "Newsletter"]
    assert rows["Newsletter"]["Recipients"] == "e-mail service provider"
    assert rows["Newsletter"]["Transfers to third countries (safeguards)"] == "US (sccs)"
    assert rows["Newsletter"]["Retention"] == "until consent is withdrawn"
    assert rows["Newsletter"]["Regions"] == "all"
    assert rows["Fraud checks"]["Lawful basis"] == "legitimate_interests"
    assert rows["Fraud checks"]["Retention (days)"] == "395"


def test_a_csv_cell_that_looks_like_a_formula_is_defused(systems, roles):
    _activity("=HYPERLINK(1)", "analytics", [], retention="1 year")
    response = _client(make_staff("DPO")).get("/admin/consent/processingactivity/art30.csv")
    assert "'=HYPERLINK(1)" in response.text


PAGES = [
    "/admin/consent/processingactivity/",
    "/admin/consent/processingactivity/art30/",
    "/admin/consent/processingactivity/art30.csv",
    "/admin/consent/processingactivity/data-map/",
]


@pytest.mark.parametrize("url", PAGES)
def test_a_privacy_officer_sees_the_data_map_pages(url, activities, roles):
    response = _client(make_staff("Privacy officer", regions=["EU"])).get(url)
    assert response.status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_a_marketing_analyst_is_refused_the_data_map_pages(url, activities, roles):
    response = _client(make_staff("Marketing analyst")).get(url)
    assert response.status_code == 403


def test_the_printable_record_and_the_data_map_show_the_activities(activities, roles):
    client = _client(make_staff("Privacy officer", regions=["EU"]))
    record = client.get("/admin/consent/processingactivity/art30/").content.decode()
    assert "Newsletter" in record
    assert "US: sccs" in record
    assert "@media print" in record
    mapped = client.get("/admin/consent/processingactivity/data-map/").content.decode()
    assert "Mailer" in mapped
    assert "Fraud checks" in mapped
    changelist = client.get("/admin/consent/processingactivity/").content.decode()
    assert "/admin/consent/processingactivity/art30.csv" in changelist


def test_a_privacy_officer_edits_an_activity_in_the_admin(systems, roles):
    client = _client(make_staff("Privacy officer", regions=["EU"]))
    response = client.post(
        "/admin/consent/processingactivity/add/",
        {
            "name": "Loyalty programme",
            "purpose": Purpose.objects.get(slug="personalization").pk,
            "lawful_basis": "",
            "active": "on",
            "data_categories": ["contact", "behavioral"],
            "subject_categories": "customers\n\nmembers\n",
            "systems": [systems["crm"].pk],
            "regions": ["EU"],
            "recipients": "loyalty partner",
            "transfers": '[{"country": "CH", "safeguard": "adequacy"}]',
            "retention": "2 years after the last purchase",
            "retention_days": "730",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    activity = ProcessingActivity.objects.get(name="Loyalty programme")
    assert activity.lawful_basis == "consent"
    assert activity.subject_categories == ["customers", "members"]
    assert activity.data_categories == ["behavioral", "contact"]
    assert list(activity.systems.all()) == [systems["crm"]]
    assert AuditEvent.objects.filter(action="consent.processing_activity.create").exists()


def test_the_demo_record_is_idempotent_and_valid():
    for name, kind, categories in [
        ("CRM", "both", ["identity", "contact"]),
        ("Web shop", "source", ["behavioral"]),
        ("Point of sale", "source", ["behavioral"]),
        ("E-mail platform", "destination", ["contact"]),
        ("Ad platform", "destination", ["behavioral"]),
    ]:
        System.objects.create(name=name, kind=kind, data_categories=categories)
    seed_processing_activities(stdout=io.StringIO())
    seed_processing_activities(stdout=io.StringIO())
    assert ProcessingActivity.objects.count() == 6
    for activity in ProcessingActivity.objects.all():
        activity.full_clean()
        assert activity.systems.exists()


def test_the_systems_admin_filters_by_data_category(systems, roles):
    response = _client(make_staff("DPO")).get("/admin/profiles/system/", {"category": "contact"})
    assert sorted(s.name for s in response.context["cl"].result_list) == ["CRM", "Mailer"]
