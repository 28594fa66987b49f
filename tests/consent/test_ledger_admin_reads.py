"""Opening a row of the consent ledger (or of its projection) in the admin shows the person's
consent with its proof (browser, truncated IP address, consent strings): an audited read, as
opening a profile is, and one the person's access report names. Out of the officer's regions
the row does not exist for them, and nothing is recorded."""

from __future__ import annotations

import pytest

from audit.actors import Actor
from audit.models import AuditEvent
from consent.models import ConsentRecord, CurrentConsent, Purpose
from consent.services import consent_record
from dsar.archive import action_description
from tests.factories import make_staff, make_subject, signed_in


@pytest.fixture
def record(regimes):
    subject = make_subject(region="EU")
    return consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=Actor.system("tests"),
        subject=subject,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("model", [ConsentRecord, CurrentConsent])
def test_opening_a_ledger_row_is_an_audited_read_of_that_person(roles, record, model):
    row = model.objects.get(subject=record.subject)
    label = model._meta.label_lower
    url = f"/admin/consent/{model._meta.model_name}/{row.pk}/change/"
    outsider = signed_in(make_staff("DPO", regions=["US"]))
    assert outsider.get(url).status_code in (302, 404)  # not theirs: no such row
    assert not AuditEvent.objects.filter(action=f"{label}.read").exists()

    officer = signed_in(make_staff("DPO", regions=["EU"]))
    assert officer.get(url).status_code == 200
    event = AuditEvent.objects.get(action=f"{label}.read")
    assert event.subject_id == record.subject_id
    assert event.object_id == str(row.pk)
    assert event.reason == "admin view"
    assert "visitor_id" in event.fields
    assert "looked at" in action_description(event.action)
