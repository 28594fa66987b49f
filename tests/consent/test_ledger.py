"""The ledger is append-only, chained per person, idempotent, and loses nothing under load."""

import threading

import pytest
from django.db import connections

from audit.actors import Actor
from consent.models import ConsentRecord, CurrentConsent, Purpose
from consent.services import (
    consent_chain_verify,
    consent_record,
    visitor_link_to_subject,
)
from ops.errors import ConflictError
from tests.factories import make_subject

SYSTEM = Actor.system("tests")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_updates_lose_no_record_and_the_projection_equals_the_last():
    subject = make_subject(region="EU")
    purpose = Purpose.objects.get(slug="analytics")
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def update(n: int) -> None:
        try:
            barrier.wait()
            consent_record(
                purpose=purpose,
                state="granted" if n % 2 else "denied",
                channel="api",
                actor=SYSTEM,
                subject=subject,
                idempotency_key=f"k{n}",
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=update, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = ConsentRecord.objects.filter(subject=subject).order_by("recorded_at")
    assert records.count() == 20
    current = CurrentConsent.objects.get(subject=subject, purpose=purpose)
    assert current.record_id == records.last().pk
    assert current.state == records.last().state
    assert consent_chain_verify(subject=subject)


@pytest.mark.django_db
def test_records_cannot_be_changed_or_deleted():
    record = consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=make_subject(),
    )
    record.state = "denied"
    with pytest.raises(PermissionError):
        record.save()
    with pytest.raises(PermissionError):
        record.delete()


@pytest.mark.django_db
def test_an_altered_record_breaks_its_owners_chain():
    subject = make_subject()
    purpose = Purpose.objects.get(slug="analytics")
    for state in ("granted", "withdrawn", "granted"):
        consent_record(purpose=purpose, state=state, channel="api", actor=SYSTEM, subject=subject)
    assert consent_chain_verify(subject=subject)
    target = ConsentRecord.objects.filter(subject=subject).order_by("recorded_at")[1]
    ConsentRecord.objects.filter(pk=target.pk).update(state="granted")  # as a DBA could
    assert not consent_chain_verify(subject=subject)


@pytest.mark.django_db
def test_the_same_idempotency_key_returns_the_first_record_or_conflicts():
    subject = make_subject()
    purpose = Purpose.objects.get(slug="analytics")
    first = consent_record(
        purpose=purpose,
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
        idempotency_key="banner-123",
    )
    again = consent_record(
        purpose=purpose,
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
        idempotency_key="banner-123",
    )
    assert again.pk == first.pk
    with pytest.raises(ConflictError):
        consent_record(
            purpose=purpose,
            state="denied",
            channel="api",
            actor=SYSTEM,
            subject=subject,
            idempotency_key="banner-123",
        )


@pytest.mark.django_db
def test_a_visitors_choices_move_to_the_subject_when_identified():
    purpose = Purpose.objects.get(slug="personalization")
    consent_record(
        purpose=purpose,
        state="granted",
        channel="banner",
        actor=SYSTEM,
        visitor_id="v-42",
        region="EU",
    )
    subject = make_subject(region="EU")
    assert visitor_link_to_subject(visitor_id="v-42", subject=subject, actor=SYSTEM) == 1
    assert CurrentConsent.objects.get(subject=subject, purpose=purpose).state == "granted"
    assert ConsentRecord.objects.filter(visitor_id="v-42").count() == 1  # history kept as it was
