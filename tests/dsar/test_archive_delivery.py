"""When the access archive's link lives: from the moment it is mailed, for the lifetime the mail
promises, however long connected systems took; and a delivery whose archive is gone fails
loudly instead of completing the request."""

import datetime as dt
import re
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from access import roles
from audit.actors import Actor
from dsar import archive as archives
from dsar import engine, services
from dsar.models import DataSubjectRequest, ExportArchive, RequestStep, SystemConnector, SystemTask
from profiles.models import System
from tests.dsar.helpers import drive
from tests.factories import make_staff, make_subject

OFFICER = Actor.system("officer")
Status = DataSubjectRequest.Status


@pytest.fixture
def manual_crm():
    system = System.objects.create(name="CRM")
    return SystemConnector.objects.create(
        system=system, mode=SystemConnector.Mode.MANUAL, instructions="export the contact"
    )


def _access(email: str) -> DataSubjectRequest:
    subject = make_subject(region="EU", email=email)
    dsr, _ = services.request_create(
        kind="access",
        channel="admin",
        actor=OFFICER,
        subject=subject,
        email=email,
        verification="officer",
    )
    return dsr


def _later(days: float):
    """Move the hub's clock forward (timezone.now is what every expiry reads)."""
    moved = timezone.now() + dt.timedelta(days=days)
    return mock.patch("django.utils.timezone.now", return_value=moved)


def _link(body: str) -> str:
    return re.search(r"/privacy-center/download/([^/\s]+)/", body).group(1)


def test_a_request_that_waits_longer_than_the_lifetime_still_gets_the_full_lifetime(
    settings, manual_crm
):
    days = settings.CUSTODIA_DSAR_ARCHIVE_DAYS
    dsr = drive(_access("slow@example.com"))
    assert dsr.status == Status.AWAITING_EXTERNAL  # the CRM has not answered
    with _later(days + 3):
        assert archives.archives_destroy_expired() == 0  # not delivered yet: kept
        mailed_at = timezone.now()
        services.system_task_complete(
            task=SystemTask.objects.get(request=dsr), actor=OFFICER, evidence="ticket 12"
        )
        dsr = drive(dsr)
    assert dsr.status == Status.COMPLETED
    archive = ExportArchive.objects.get(request=dsr)
    assert archive.expires_at == mailed_at + dt.timedelta(days=days)
    body = mail.outbox[-1].body
    assert f"within {days} days (until {archive.expires_at:%Y-%m-%d %H:%M} UTC)" in body
    token = _link(body)
    with _later(days + 3 + days - 0.1):
        assert archives.archive_for_token(token).pk == archive.pk  # still valid at the end
        assert archives.archives_destroy_expired() == 0
    with _later(days + 3 + days + 0.1):
        with pytest.raises(archives.ArchiveGone):
            archives.archive_for_token(token)
        assert archives.archives_destroy_expired() == 1


def test_a_request_whose_archive_was_deleted_before_delivery_does_not_complete(client, manual_crm):
    dsr = drive(_access("lost@example.com"))
    archives.archive_destroy(archive=ExportArchive.objects.get(request=dsr))
    services.system_task_complete(
        task=SystemTask.objects.get(request=dsr), actor=OFFICER, evidence="ticket 13"
    )
    sent = len(mail.outbox)
    dsr = drive(dsr)

    assert dsr.status == Status.IN_PROGRESS
    assert dsr.closed_at is None
    deliver = dsr.steps.get(name="deliver")
    assert deliver.status == RequestStep.Status.FAILED
    assert "archive was destroyed before it was delivered" in deliver.error
    assert dsr.steps.get(name="close").status == RequestStep.Status.PENDING
    assert dsr.timeline.filter(message__startswith="deliver failed: the archive").exists()
    assert len(mail.outbox) == sent  # no dead link mailed
    client.force_login(make_staff(roles.PRIVACY_OFFICER, regions=["EU"]))
    page = client.get(f"/admin/dsar/datasubjectrequest/{dsr.pk}/change/").content.decode()
    assert "deliver failed: the archive was destroyed before it was delivered" in page


def test_an_officers_retry_builds_the_archive_again_and_delivers_it(manual_crm):
    dsr = drive(_access("again@example.com"))
    archives.archive_destroy(archive=ExportArchive.objects.get(request=dsr))
    services.system_task_complete(
        task=SystemTask.objects.get(request=dsr), actor=OFFICER, evidence="ticket 14"
    )
    dsr = drive(dsr)
    engine.step_retry(step=dsr.steps.get(name="deliver"), actor=OFFICER)
    dsr = drive(dsr)

    assert dsr.status == Status.COMPLETED
    archive = ExportArchive.objects.get(request=dsr)
    assert archive.destroyed_at is None
    assert archives.archive_for_token(_link(mail.outbox[-1].body)).pk == archive.pk
    assert dsr.timeline.filter(message="deliver: archive built again").exists()


def test_the_sweeper_destroys_an_archive_that_was_never_delivered_once_the_request_closed(
    settings, manual_crm
):
    dsr = drive(_access("denied@example.com"))
    services.request_deny(request=dsr, actor=OFFICER, reason="manifestly unfounded")
    with _later(40 + settings.CUSTODIA_DSAR_ARCHIVE_DAYS):  # past the deadline's backstop
        assert archives.archives_destroy_expired() == 1
    assert ExportArchive.objects.get(request=dsr).ciphertext is None


def test_a_link_handed_over_by_an_officer_lives_the_full_lifetime_from_then(settings):
    subject = make_subject(region="EU")
    dsr, _ = services.request_create(
        kind="access", channel="api", actor=OFFICER, subject=subject, verification="service"
    )
    dsr = drive(dsr)
    assert dsr.status == Status.COMPLETED
    assert dsr.steps.get(name="deliver").result == {"mailed": False, "handover": "officer"}
    with _later(10):
        issued_at = timezone.now()
        link = services.archive_link_issue(
            request=DataSubjectRequest.objects.get(pk=dsr.pk), actor=OFFICER
        )
    days = settings.CUSTODIA_DSAR_ARCHIVE_DAYS
    assert link["expires_at"] == (issued_at + dt.timedelta(days=days)).isoformat()
    with _later(10 + days - 0.1):
        assert archives.archive_for_token(_link(link["url"]))
