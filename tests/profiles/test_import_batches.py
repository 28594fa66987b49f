"""NDJSON imports create certainly-new people in bulk and run everything else (existing
identities, duplicates within the file, probable matches, suppressed identities) through the
one-by-one upsert: the outcome is the same as importing line by line."""

import datetime as dt
import io
import json

import pytest
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEvent
from audit.verify import verify_chain
from profiles.imports import import_job_create, import_job_run
from profiles.models import (
    Attribute,
    Event,
    Identifier,
    ImportJob,
    ImportLineError,
    MatchReview,
    Subject,
)
from profiles.selectors import subjects_find_by_identifier
from tests.factories import make_subject

ACTOR = Actor.system("tests")


def _import(records: list[dict]):
    body = ("\n".join(json.dumps(r) for r in records) + "\n").encode()
    job = import_job_create(stream=io.BytesIO(body), actor=ACTOR)
    return import_job_run(job_id=str(job.pk))


def _person(email: str, **attributes) -> dict:
    return {
        "region": "EU",
        "identifiers": [{"kind": "email", "value": email}],
        "attributes": attributes,
        "events": [{"name": "signup", "payload": {"plan": "basic"}}],
    }


@pytest.mark.django_db
def test_a_mixed_file_imports_as_if_line_by_line():
    existing = make_subject(region="EU", email="known@example.com")
    twin = make_subject(
        region="EU",
        email="twin@example.com",
        name="Ada Byron",
        birth_date="1990-12-10",
        postcode="75001",
    )
    lookalike = make_subject(region="EU", email="look@example.com", name="Bea Lune")
    make_subject(region="EU", email="erased@example.com")
    from profiles.services import subject_erase

    erased = subjects_find_by_identifier(kind="email", value="erased@example.com").get()
    subject_erase(subject_id=erased.pk, actor=ACTOR)

    job = _import(
        [
            _person("new1@example.com", name="New One"),
            _person("new2@example.com", name="New Two"),
            _person("known@example.com", loyalty_tier="gold"),  # existing identity: update
            _person("dup@example.com", city="Lyon"),
            _person("dup@example.com", city="Nice"),  # same person twice in the file
            _person("ERASED@example.com"),  # suppressed
            _person(
                "ada@example.com", name="Ada Byron", birth_date="1990-12-10", postcode="75001"
            ),  # all three signals: auto-merge into the twin
            _person("bea@example.com", name="Bea Lune", birth_date="1985-01-01"),
        ]
    )
    assert job.imported == 7
    assert job.failed == 1
    assert ImportLineError.objects.get(job=job).code == "identity_suppressed"

    new1 = subjects_find_by_identifier(kind="email", value="new1@example.com").get()
    name = Attribute.objects.get(subject=new1, key="name")
    name.subject = new1
    assert name.value == "New One"
    assert Event.objects.filter(subject=new1).count() == 1

    assert subjects_find_by_identifier(kind="email", value="known@example.com").get() == existing
    assert Attribute.objects.filter(subject=existing, key="loyalty_tier").exists()

    dup = subjects_find_by_identifier(kind="email", value="dup@example.com").get()
    city = Attribute.objects.get(subject=dup, key="city")
    city.subject = dup
    assert city.value == "Nice"  # the later line wins, as line by line
    assert Identifier.objects.filter(kind="email", subject=dup).count() == 1

    ada = subjects_find_by_identifier(kind="email", value="ada@example.com").get()
    assert ada == twin  # merged into the older subject
    assert (
        MatchReview.objects.filter(candidate=lookalike).count() == 0
    )  # a name alone never proposes

    created = AuditEvent.objects.filter(action="profiles.subject.create").count()
    assert created == Subject.objects.count()  # one per subject ever created, merged ones too
    assert verify_chain().ok


@pytest.mark.django_db
def test_a_probable_match_in_a_file_becomes_a_review_item():
    older = make_subject(
        region="EU", email="c1@example.com", name="Ana Silva", birth_date="1970-07-08"
    )
    job = _import([_person("c2@example.com", name="Anna Silva", birth_date="1970-07-07")])
    assert job.imported == 1
    review = MatchReview.objects.get()
    assert review.candidate == older
    assert 0.05 < review.score < 0.995  # probable, below the auto-merge precision


@pytest.mark.django_db
def test_a_person_created_meanwhile_by_another_writer_is_upserted_not_duplicated(monkeypatch):
    """The bulk path decided "new", then someone else created that identity first: the chunk
    falls back to the one-by-one upsert instead of failing."""
    from profiles import services

    real = services.upsert_partition

    def racing(records):
        decided = real(records)
        make_subject(region="EU", email="race@example.com")  # another writer, just in time
        return decided

    monkeypatch.setattr(services, "upsert_partition", racing)
    job = _import([_person("race@example.com", city="Lyon"), _person("calm@example.com")])
    assert job.imported == 2
    assert job.failed == 0
    raced = subjects_find_by_identifier(kind="email", value="race@example.com").get()
    assert Attribute.objects.filter(subject=raced, key="city").exists()
    assert Identifier.objects.filter(kind="email").count() == 2


@pytest.mark.django_db
def test_an_upload_while_the_broker_is_down_is_kept_and_the_sweeper_sends_it(
    django_capture_on_commit_callbacks,
):
    from profiles.imports import LEASE_SECONDS, import_jobs_resume_stalled
    from tests.faults import broker_unreachable

    body = (json.dumps(_person("nina@example.com")) + "\n").encode()
    with broker_unreachable(), django_capture_on_commit_callbacks(execute=True):
        job = import_job_create(stream=io.BytesIO(body), actor=ACTOR)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PENDING  # committed, not lost, no error raised

    ImportJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=LEASE_SECONDS + 1)
    )
    assert import_jobs_resume_stalled() == 1  # the broker is back: the job is sent
