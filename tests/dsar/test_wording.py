"""What people and officers read: request types in plain words with their own regime's legal
reference, where to complain, what an erasure keeps and why, who acted, and labels."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.apps import apps
from django.core import mail
from django.utils import timezone

from audit.actors import Actor
from consent.models import ConsentProperty, WebhookDelivery
from dsar import services, wording
from dsar.models import DataSubjectRequest, RetentionException
from profiles.models import Event, SuppressedIdentity
from tests.dsar.helpers import drive
from tests.factories import make_subject

SYSTEM = Actor.system("crm")


@pytest.fixture
def prop(db):
    return ConsentProperty.objects.create(name="Shop", publishable_key="pk_words")


def _intake(api, prop, kind: str, region: str, email: str = "ana@example.com") -> str:
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    r = api.post(
        "/api/v1/dsar/intake/", {"kind": kind, "email": email, "region": region}, format="json"
    )
    assert r.status_code == 202, r.content
    return r.json()["reference"]


def test_an_eu_person_is_told_of_an_access_request_under_the_gdpr_without_ccpa(api, prop):
    _intake(api, prop, "access", "EU")
    body = mail.outbox[-1].body
    assert "We received an access request (GDPR Art. 15) for this address." in body
    assert "CCPA" not in body


def test_a_californian_is_told_of_a_request_to_know_under_the_ccpa(api, prop):
    _intake(api, prop, "access", "US-CA")
    assert "an access request (CCPA right to know" in mail.outbox[-1].body
    _intake(api, prop, "opt_out", "US-CA")
    assert "a request to opt out of sale and sharing (CCPA" in mail.outbox[-1].body


def test_a_refusal_names_where_the_person_may_complain_under_their_regime(
    api, prop, django_capture_on_commit_callbacks
):
    reference = _intake(api, prop, "erasure", "GB")
    dsr = DataSubjectRequest.objects.get(reference=reference)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_deny(request=dsr, actor=SYSTEM, reason="We hold no data on you.")
    body = mail.outbox[-1].body
    assert "We cannot carry out your erasure request." in body
    assert "Information Commissioner's Office" in body


def test_the_person_is_told_which_records_the_law_keeps_why_and_until_when(settings):
    settings.CUSTODIA_DSAR_APPROVAL_REQUIRED = []
    RetentionException.objects.create(
        event_prefix="order.", reason="tax law: invoices kept 10 years", keep_days=3650
    )
    subject = make_subject(region="EU", email="olga@example.com", events=1)
    placed = timezone.now() - dt.timedelta(days=10)
    Event(subject=subject, name="order.placed", payload={"n": 1}, occurred_at=placed).save()
    dsr, _ = services.request_create(
        kind="erasure",
        channel="api",
        actor=SYSTEM,
        subject=subject,
        email="olga@example.com",
        verification="service",
    )
    drive(dsr)
    body = mail.outbox[-1].body
    until = (placed + dt.timedelta(days=3650)).date().isoformat()
    assert f"- 1 order record, kept until {until} (tax law: invoices kept 10 years)" in body
    assert "Some records (1)" not in body


def test_the_timeline_names_the_privacy_center_not_a_database_id(api, prop):
    reference = _intake(api, prop, "access", "EU")
    dsr = DataSubjectRequest.objects.get(reference=reference)
    code = re.search(r"code: (\d{6})", mail.outbox[-1].body)[1]
    api.post("/api/v1/dsar/intake/confirm/", {"reference": reference, "code": code}, format="json")
    actors = set(dsr.timeline.values_list("actor", flat=True))
    assert "the privacy center of Shop" in actors
    assert not any(actor.startswith("property:") for actor in actors)
    dsr.refresh_from_db()
    assert dsr.get_verification_display() == "E-mail address confirmed with a mailed code"


def test_labels_read_as_english():
    assert apps.get_app_config("dsar").verbose_name == "Data-subject requests"
    assert SuppressedIdentity._meta.verbose_name_plural == "suppressed identities"
    assert WebhookDelivery._meta.verbose_name_plural == "webhook deliveries"
    assert wording.with_article("access request") == "an access request"
    assert wording.with_article("rectification request") == "a rectification request"


@pytest.mark.parametrize(
    ("days", "words"),
    [(3650, "10 years"), (3652, "10 years"), (365, "1 year"), (180, "6 months"), (45, "45 days")],
)
def test_a_retention_period_reads_in_years_months_or_days(days, words):
    assert wording.period(days) == words


def test_a_step_result_reads_as_a_sentence():
    assert wording.result_text({"subject_found": True, "systems": 2}) == (
        "subject found; 2 connected systems"
    )
    text = wording.result_text({"identifiers": 1, "data_key_destroyed": True}, step="erase")
    assert text == "1 identifier deleted; data key destroyed"
