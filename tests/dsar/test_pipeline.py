"""The pipeline run step by step in the test process: what each request type does, and that a
step claimed twice has its effect once. (tests/e2e/test_dsar_worker.py runs it on workers.)"""

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEvent
from consent.models import ConsentRecord, CurrentConsent, ProcessingActivity, Purpose
from consent.selectors import may_process
from consent.services import consent_record
from core.errors import DomainError
from dsar import archive as archives
from dsar import engine, housekeeping, services, steps
from dsar.models import (
    DataSubjectRequest,
    ExportArchive,
    RequestStep,
    RetentionException,
)
from profiles.crypto.fields import Ciphertext
from profiles.crypto.keyring import DecryptionError
from profiles.models import Attribute, Event, Identifier, Subject, SubjectKey, SuppressedIdentity
from profiles.services import IdentitySuppressed, subject_upsert
from tests.dsar.helpers import drive
from tests.factories import make_subject
from tests.faults import broker_unreachable

OFFICER = Actor.system("officer")
Status = DataSubjectRequest.Status


def _open(kind: str, subject: Subject, *, email: str = "", details=None) -> DataSubjectRequest:
    dsr, _ = services.request_create(
        kind=kind,
        channel="admin",
        actor=OFFICER,
        subject=subject,
        email=email,
        details=details,
        verification="officer",
    )
    if dsr.status == Status.AWAITING_APPROVAL:
        dsr = services.request_approve(request=dsr, actor=OFFICER)
    return dsr


def test_access_request_builds_an_archive_with_everything_held_and_who_saw_it():
    subject = make_subject(region="EU", email="ana@example.com", name="Ana Lima", events=3)
    ProcessingActivity.objects.create(
        name="Newsletter",
        purpose=Purpose.objects.get(slug="marketing_email"),
        lawful_basis="consent",
        data_categories=["contact"],
        recipients=["E-mail platform (processor)"],
        retention="until withdrawal, then 30 days",
    )
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=OFFICER,
        subject=subject,
    )
    dsr = drive(_open("access", subject, email="ana@example.com"))
    assert dsr.status == Status.COMPLETED, dsr.steps.values("name", "status", "error")

    link = mail.outbox[-1].body.split("\n\n")[1].strip()
    assert link.startswith("http")
    assert "/privacy-center/download/" in link
    archive = ExportArchive.objects.get(request=dsr)
    assert archive.chunk_count >= 1
    assert all(
        b"ana@example.com" not in bytes(chunk)
        for chunk in archive.chunks.values_list("ciphertext", flat=True)
    )
    content = archives.archive_open(archive)
    files = zipfile.ZipFile(io.BytesIO(content))
    assert set(files.namelist()) >= {"data.json", "profile.csv", "events.csv", "consent.csv"}
    data = json.loads(files.read("data.json"))
    assert {i["value"] for i in data["identifiers"]} == {"ana@example.com"}
    assert any(a["key"] == "name" and a["value"] == "Ana Lima" for a in data["attributes"])
    assert len(data["events"]) == 3
    assert data["consent_history"][0]["purpose"] == "analytics"
    assert "notice" in data["consent_history"][0]
    assert data["processing"][0]["recipients"] == ["E-mail platform (processor)"]
    assert data["processing"][0]["retention"] == "until withdrawal, then 30 days"
    assert "Newsletter" in files.read("processing.csv").decode()
    assert any(e["action"] == "dsar.request.create" for e in data["access_history"])
    assert "ana@example.com" in files.read("profile.csv").decode()


def test_the_download_link_works_once_then_the_archive_and_its_key_are_gone(client):
    subject = make_subject(region="EU", email="once@example.com")
    dsr = drive(_open("access", subject, email="once@example.com"))
    archive = ExportArchive.objects.get(request=dsr)
    token = archives.download_token(archive)
    page = client.get(f"/privacy-center/download/{token}/")
    assert page.status_code == 200
    assert ExportArchive.objects.get(pk=archive.pk).destroyed_at is None  # GET uses nothing up
    first = client.post(f"/privacy-center/download/{token}/")
    assert first.status_code == 200
    assert first["Content-Type"] == "application/zip"
    assert first.streaming
    content = b"".join(first.streaming_content)
    assert int(first["Content-Length"]) == len(content)
    assert zipfile.ZipFile(io.BytesIO(content)).read("data.json")
    assert client.post(f"/privacy-center/download/{token}/").status_code == 410
    archive.refresh_from_db()
    assert archive.ciphertext is None
    assert not archive.chunks.exists()  # deleted once the last chunk was sent
    assert archive.downloaded_at is not None
    assert not SubjectKey.objects.filter(subject_id=archive.pk).exists()
    assert client.get("/privacy-center/download/forged-token/").status_code == 410


def test_an_access_request_for_an_unknown_address_still_gets_an_answer():
    dsr, _ = services.request_create(
        kind="access",
        channel="api",
        actor=OFFICER,
        region="EU",
        email="stranger@example.com",
        verification="service",
    )
    dsr = drive(dsr)
    assert dsr.status == Status.COMPLETED
    data = json.loads(
        zipfile.ZipFile(io.BytesIO(archives.archive_open(dsr.archive))).read("data.json")
    )
    assert data["found"] is False


def _ciphertexts(subject_id) -> list[tuple[str, str, str, str]]:
    rows = []
    with connection.cursor() as cursor:
        for model, field in ((Identifier, "value"), (Attribute, "value"), (Event, "payload")):
            cursor.execute(
                f"SELECT id, {field} FROM {model._meta.db_table} WHERE subject_id = %s",  # noqa: S608 - table and column names are ours
                [subject_id.hex if connection.vendor == "sqlite" else subject_id],
            )
            rows += [(model._meta.label_lower, field, str(pk), value) for pk, value in cursor]
    return rows


def test_erasure_shreds_deletes_suppresses_and_keeps_a_pii_free_tombstone():
    subject = make_subject(region="EU", email="gone@example.com", name="Gone Person", events=2)
    dsr = drive(_open("erasure", subject, email="gone@example.com"))
    assert dsr.status == Status.COMPLETED
    subject.refresh_from_db()
    assert subject.status == Subject.Status.ERASED
    assert not SubjectKey.objects.filter(subject_id=subject.pk).exists()
    assert _ciphertexts(subject.pk) == []
    assert SuppressedIdentity.objects.count() == 1
    with pytest.raises(IdentitySuppressed):
        subject_upsert(
            record={
                "region": "EU",
                "identifiers": [{"kind": "email", "value": "GONE@example.com"}],
            },
            actor=OFFICER,
        )
    # The proof stays: what was done, when, by whom; no personal value anywhere in it.
    assert dsr.result["erase"]["data_key_destroyed"] is True
    blob = json.dumps(dsr.result) + str(list(AuditEvent.objects.values()))
    assert "gone@example.com" not in blob
    assert "Gone Person" not in blob
    assert DataSubjectRequest.objects.get(pk=dsr.pk).purged_at is not None


def test_a_legal_hold_blocks_erasure_with_its_reason():
    subject = make_subject(region="EU", email="held@example.com")
    services.legal_hold_place(subject=subject, reason="litigation 2026-041", actor=OFFICER)
    dsr = drive(_open("erasure", subject))
    assert dsr.status == Status.REJECTED
    assert dsr.outcome == "legal hold: litigation 2026-041"
    assert Identifier.objects.filter(subject=subject).exists()
    assert SubjectKey.objects.filter(subject_id=subject.pk).exists()


def test_a_retention_exception_narrows_erasure_to_what_the_law_keeps():
    RetentionException.objects.create(
        event_prefix="order.", reason="tax law: invoices 10 years", keep_days=3650
    )
    result = subject_upsert(
        record={
            "region": "EU",
            "identifiers": [{"kind": "email", "value": "buyer@example.com"}],
            "events": [
                {"name": "order.placed", "payload": {"total": 42}},
                {"name": "page_view", "payload": {"path": "/"}},
            ],
        },
        actor=OFFICER,
    )
    subject = Subject.objects.get(pk=result.subject_id)
    dsr = drive(_open("erasure", subject))
    assert dsr.status == Status.COMPLETED
    subject.refresh_from_db()
    assert subject.status == Subject.Status.RESTRICTED
    assert list(Event.objects.filter(subject=subject).values_list("name", flat=True)) == [
        "order.placed"
    ]
    assert not Identifier.objects.filter(subject=subject).exists()
    assert dsr.result["erase"]["kept_because"] == ["tax law: invoices 10 years"]
    assert dsr.retained_until > timezone.now() + dt.timedelta(days=3600)

    # When the retention period ends, the sweeper finishes the erasure (key included).
    DataSubjectRequest.objects.filter(pk=dsr.pk).update(
        retained_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert housekeeping.erasures_finish_deferred() == 1
    subject.refresh_from_db()
    assert subject.status == Subject.Status.ERASED
    assert not Event.objects.filter(subject=subject).exists()
    assert not SubjectKey.objects.filter(subject_id=subject.pk).exists()


def test_opt_out_request_denies_sale_and_sharing():
    subject = make_subject(region="US-CA")
    dsr = drive(_open("opt_out", subject))
    assert dsr.status == Status.COMPLETED
    for purpose in Purpose.objects.filter(sale_sharing=True):
        assert may_process(subject=subject, purpose=purpose).allowed is False
        assert CurrentConsent.objects.get(subject=subject, purpose=purpose).state == "denied"


def test_objection_denies_the_named_purposes_only():
    subject = make_subject(region="EU")
    dsr = drive(_open("objection", subject, details={"purposes": ["marketing_email"]}))
    assert dsr.status == Status.COMPLETED
    denied = set(
        ConsentRecord.objects.filter(subject=subject, state="denied").values_list(
            "purpose__slug", flat=True
        )
    )
    assert denied == {"marketing_email"}


def test_rectification_corrects_the_attribute_and_audits_the_key_not_the_value():
    subject = make_subject(region="EU", name="Jon Smyth")
    dsr = drive(_open("rectification", subject, details={"corrections": {"name": "John Smith"}}))
    assert dsr.status == Status.COMPLETED
    attribute = Attribute.objects.get(subject=subject, key="name")
    attribute.subject = subject
    assert attribute.value == "John Smith"
    event = AuditEvent.objects.get(action="profiles.subject.rectify")
    assert event.fields == ["attribute:name"]
    assert "John Smith" not in str(AuditEvent.objects.values())


def test_rectification_without_corrections_is_refused_at_intake():
    subject = make_subject(region="EU")
    with pytest.raises(DomainError, match="corrections"):
        services.request_create(
            kind="rectification",
            channel="admin",
            actor=OFFICER,
            subject=subject,
            verification="officer",
        )


def test_a_step_held_by_a_live_lease_cannot_be_claimed_again():
    subject = make_subject(region="EU")
    dsr = _open("access", subject)
    step = engine.step_next(dsr.pk)
    assert engine.step_claim(step.pk) is not None
    assert engine.step_claim(step.pk) is None  # still leased: a second message is a no-op


def test_a_step_whose_worker_died_is_claimed_again_after_its_lease_and_runs_once():
    subject = make_subject(region="EU", email="twice@example.com")
    dsr = _open("erasure", subject)
    drive_until = engine.step_next(dsr.pk)
    assert engine.step_run(step_id=drive_until.pk) == "done"  # locate
    erase = engine.step_next(dsr.pk)
    assert erase.name == "erase"
    stale = engine.step_claim(erase.pk)  # a worker claims, then is killed before committing
    RequestStep.objects.filter(pk=erase.pk).update(
        lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert engine.step_run(step_id=erase.pk) == "done"  # the sweeper's re-delivery
    erase.refresh_from_db()
    assert erase.attempts == 2
    # The dead worker's attempt cannot complete the step any more (fencing on attempts).
    assert engine.step_settle(stale, status="done") is False
    assert AuditEvent.objects.filter(action="profiles.subject.erase").count() == 1


def test_the_sweeper_requeues_a_step_whose_lease_expired():
    subject = make_subject(region="EU")
    dsr = _open("access", subject)
    step = engine.step_next(dsr.pk)
    engine.step_claim(step.pk)
    RequestStep.objects.filter(pk=step.pk).update(
        lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert housekeeping.sweep()["requeued"] == 1


def test_a_failing_step_is_retried_with_backoff_then_marked_failed_for_an_officer(monkeypatch):
    subject = make_subject(region="EU")
    dsr = _open("access", subject)

    def broken(request, step):
        raise OSError("disk full")

    monkeypatch.setitem(steps.RUNNERS, "locate", broken)
    step = engine.step_next(dsr.pk)
    for attempt in range(1, steps.MAX_ATTEMPTS + 1):
        RequestStep.objects.filter(pk=step.pk).update(lease_until=None)
        assert engine.step_run(step_id=step.pk) in ("retry", "not claimed")
        step.refresh_from_db()
        assert step.attempts == attempt
    assert step.status == RequestStep.Status.FAILED
    assert step.error == "OSError"
    monkeypatch.undo()
    engine.step_retry(step=step, actor=OFFICER)
    assert drive(dsr).status == Status.COMPLETED


def test_ciphertext_copied_before_erasure_cannot_be_decrypted_afterwards():
    """A backup taken before the erasure holds ciphertext; without the destroyed data key it
    is unreadable, whatever master key is at hand."""
    subject = make_subject(region="EU", email="x@example.com", name="X", events=1)
    backup = _ciphertexts(subject.pk)
    assert backup
    drive(_open("erasure", subject))
    models = {
        "profiles.identifier": Identifier,
        "profiles.attribute": Attribute,
        "profiles.event": Event,
    }
    for label, field, pk, token in backup:
        restored = models[label](id=pk, subject=Subject.objects.get(pk=subject.pk))
        restored.__dict__[field] = Ciphertext(token)
        with pytest.raises(DecryptionError):
            getattr(restored, field)


def test_a_request_opened_while_the_broker_is_down_starts_and_the_sweeper_sends_its_step(
    django_capture_on_commit_callbacks,
):
    subject = make_subject(region="EU")
    with broker_unreachable(), django_capture_on_commit_callbacks(execute=True):
        dsr, _ = services.request_create(
            kind="access",
            channel="api",
            actor=Actor.system("crm-integration"),
            subject=subject,
            verification="service",
        )
    dsr.refresh_from_db()
    assert dsr.status == Status.IN_PROGRESS
    step = engine.step_next(dsr.pk)
    assert step.status == RequestStep.Status.PENDING
    assert step.lease_until > timezone.now()  # the sweeper leaves it alone for one lease

    RequestStep.objects.filter(pk=step.pk).update(
        lease_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert housekeeping.sweep()["requeued"] == 1  # the broker is back: the step is sent


def test_a_sweep_while_the_broker_is_down_leaves_the_stale_steps_for_the_next_sweep():
    """The sweep does not fail on the broker: the step it could not send keeps the lease it had
    (not a new one it never used), so the next sweep, with the broker back, sends it."""
    subject = make_subject(region="EU")
    dsr = _open("access", subject)
    step = engine.step_next(dsr.pk)
    expired = timezone.now() - dt.timedelta(seconds=1)
    RequestStep.objects.filter(pk=step.pk).update(lease_until=expired)
    with broker_unreachable():
        assert housekeeping.sweep()["requeued"] == 0
    step.refresh_from_db()
    assert step.lease_until == expired
    assert housekeeping.sweep()["requeued"] == 1
