"""NDJSON imports create certainly-new people in bulk and run everything else (existing
identities, duplicates within the file, probable matches, suppressed identities) through the
one-by-one upsert: the outcome is the same as importing line by line."""

import codecs
import datetime as dt
import io
import json

import pytest
from django.db import IntegrityError, OperationalError
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
    from profiles.services import ingest_chunk

    real = ingest_chunk.upsert_partition

    def racing(records):
        decided = real(records)
        make_subject(region="EU", email="race@example.com")  # another writer, just in time
        return decided

    monkeypatch.setattr(ingest_chunk, "upsert_partition", racing)  # as records_ingest calls it
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


def _value(row, subject):
    row.subject = subject  # decrypt under the subject's key
    return row.payload if isinstance(row, Event) else row.value


@pytest.mark.django_db
def test_a_file_of_known_people_updates_each_in_place_as_line_by_line():
    ada = make_subject(region="EU", email="ada@example.com", city="Paris")
    bob = make_subject(region="EU", email="bob@example.com", city="Oslo")
    first = _person("ada@example.com", city="Lyon")
    first["events"][0]["occurred_at"] = "2026-01-01T00:00:00Z"
    job = _import(
        [
            first,
            {
                "region": "EU",
                "identifiers": [
                    {"kind": "email", "value": "BOB@example.com"},
                    {"kind": "phone", "value": "+33 6 12 34 56 78"},  # a new identity of Bob
                ],
                "attributes": {"city": "Nice", "loyalty_tier": "gold"},
            },
        ]
    )
    assert (job.imported, job.failed) == (2, 0)
    assert Subject.objects.count() == 2  # nobody created
    city = Attribute.objects.get(subject=ada, key="city")
    assert _value(city, ada) == "Lyon"  # updated in place, readable under Ada's key
    assert _value(Attribute.objects.get(subject=bob, key="loyalty_tier"), bob) == "gold"
    assert _value(Attribute.objects.get(subject=bob, key="city"), bob) == "Nice"
    assert subjects_find_by_identifier(kind="phone", value="+33612345678").get() == bob
    [event] = Event.objects.filter(subject=ada)
    assert _value(event, ada) == {"plan": "basic"}

    updates = AuditEvent.objects.filter(action="profiles.subject.update").order_by("sequence")
    assert [(u.subject_id, u.fields) for u in updates] == [
        (ada.pk, ["attribute.city", "events"]),
        (bob.pk, ["attribute.city", "attribute.loyalty_tier", "identifier.phone"]),
    ]
    assert verify_chain().ok

    again = _import([first])  # the same line again: the event is not recorded twice
    assert again.imported == 1
    assert Event.objects.filter(subject=ada).count() == 1


@pytest.mark.django_db
def test_two_lines_for_one_known_person_apply_in_file_order():
    known = make_subject(region="EU", email="kim@example.com", customer_id="C-1")
    job = _import(
        [
            _person("kim@example.com", city="Lyon", tier="silver"),
            {
                "region": "EU",
                "identifiers": [{"kind": "customer_id", "value": "C-1"}],
                "attributes": {"city": "Nice"},
            },
        ]
    )
    assert job.imported == 2
    assert _value(Attribute.objects.get(subject=known, key="city"), known) == "Nice"
    assert _value(Attribute.objects.get(subject=known, key="tier"), known) == "silver"


@pytest.mark.django_db
def test_a_known_person_merged_meanwhile_by_another_writer_is_updated_one_by_one(monkeypatch):
    """The bulk path planned to update a subject, then another writer merged it away: the
    chunk falls back to the one-by-one upsert, which finds the survivor."""
    from profiles import services
    from profiles.services import ingest_chunk

    merged = make_subject(region="EU", email="gone@example.com")
    survivor = make_subject(region="EU", email="stays@example.com")
    real = ingest_chunk.upsert_partition

    def racing(records):
        plan = real(records)
        services.subjects_merge(
            survivor=survivor,
            merged=merged,
            method="review",
            confidence=1.0,
            signals=[],
            actor=ACTOR,
        )
        return plan

    monkeypatch.setattr(ingest_chunk, "upsert_partition", racing)  # as records_ingest calls it
    job = _import([_person("gone@example.com", city="Lyon"), _person("new@example.com")])
    assert (job.imported, job.failed) == (2, 0)
    assert _value(Attribute.objects.get(subject=survivor, key="city"), survivor) == "Lyon"
    assert not Attribute.objects.filter(subject=merged).exists()


def _name(n: int) -> str:
    """Distinct people whose names share no blocking key (a distinct Soundex code each), so
    nothing in the chunk needs comparing: S + three coded consonants, vowels between them."""
    groups = "bcdlmr"  # Soundex digits 1, 2, 3, 4, 5, 6
    return "Anna Sa" + "a".join(groups[(n // 6**i) % 6] for i in (2, 1, 0))


@pytest.mark.django_db
@pytest.mark.parametrize("people", [5, 60])
def test_an_import_chunk_needs_the_same_queries_for_5_or_60_people(
    people, django_assert_max_num_queries
):
    """Query budget of one chunk (set-based: it must not grow with the chunk's lines). 60:
    the audit append and the profile rows are one statement whatever the size (rows_insert).
    29: what a chunk needs on PostgreSQL (28 on SQLite), among them the suppression check again
    once the rows are written (an erasure that committed meanwhile)."""

    def run(records: list[dict], budget: int) -> ImportJob:
        body = ("\n".join(json.dumps(r) for r in records) + "\n").encode()
        job = import_job_create(stream=io.BytesIO(body), actor=ACTOR)
        with django_assert_max_num_queries(budget):
            return import_job_run(job_id=str(job.pk))

    run([_person(f"q{n}@example.com", name=_name(n), city="Lyon") for n in range(people)], 29)
    job = run([_person(f"q{n}@example.com", city="Nice") for n in range(people)], 29)
    assert (job.imported, job.failed) == (people, 0)
    assert AuditEvent.objects.filter(action="profiles.subject.update").count() == people


@pytest.mark.django_db
def test_two_lines_of_a_chunk_the_model_could_match_are_not_created_blindly():
    """Set-based or not, a chunk is matched as line by line: two spellings of one person in
    one file (a typo in the name, day and month off by one) open a review or merge instead
    of two unrelated subjects, while an unrelated person in the same chunk is bulk-created."""
    from profiles.models import MatchReview, Subject

    job = _import(
        [
            _person("ana@example.com", name="Ana Silva", birth_date="1970-07-08"),
            _person("anna@example.com", name="Anna Silva", birth_date="1970-07-07"),
            _person("other@example.com", name="Peter Novak", birth_date="1955-02-11"),
        ]
    )
    assert (job.imported, job.failed) == (3, 0)
    active = Subject.objects.filter(status=Subject.Status.ACTIVE).count()
    reviewed = MatchReview.objects.filter(status="pending").count()
    assert active == 2 or reviewed == 1


@pytest.mark.django_db
def test_an_update_keeps_the_matching_profile_of_all_the_persons_values():
    """A known person's file line that carries one matching value leaves the profile equal to
    re-encoding all their values (the stored name and birth date too), as line by line; the
    same line again rewrites neither the profile nor its blocking keys."""
    from profiles import matching
    from profiles.models import MatchBlock, MatchProfile

    known = make_subject(
        region="EU", email="zoe@example.com", name="Zoe Marchal", birth_date="1980-03-04"
    )
    line = _person("zoe@example.com", postcode="69003")
    assert _import([line]).imported == 1
    expected = matching.encode(
        {"name": "Zoe Marchal", "birth_date": "1980-03-04", "postcode": "69003"}
    )
    profile = MatchProfile.objects.get(subject=known)
    assert profile.encodings == expected.fields
    blocks = list(MatchBlock.objects.filter(subject=known).order_by("key").values_list("key", "pk"))
    assert [key for key, _pk in blocks] == sorted(expected.blocks)

    assert _import([line]).imported == 1
    assert MatchProfile.objects.get(subject=known).updated_at == profile.updated_at
    assert (
        list(MatchBlock.objects.filter(subject=known).order_by("key").values_list("key", "pk"))
        == blocks
    )


@pytest.mark.django_db
def test_a_file_saved_with_a_byte_order_mark_imports_its_first_line():
    """Editors on Windows save "UTF-8 with BOM": the mark is not part of the first record."""
    lines = [json.dumps(_person(f"bom{n}@example.com")) for n in range(2)]
    body = codecs.BOM_UTF8 + ("\n".join(lines) + "\n").encode()
    job = import_job_create(stream=io.BytesIO(body), actor=ACTOR)
    job = import_job_run(job_id=str(job.pk))
    assert (job.imported, job.failed) == (2, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "identifier",
    [
        {"kind": "customer_id", "value": "\u200b"},  # zero-width space
        {"kind": "customer_id", "value": "\ufeff "},  # a byte-order mark pasted from a file
        {"kind": "customer_id", "value": "\x01\x02"},
        {"kind": "device_id", "value": " \u2060\u200d "},
    ],
)
def test_an_identifier_with_no_visible_character_is_a_line_error(identifier):
    """It names nobody: taken as an id, every line carrying it would be one person."""
    lines = [{"region": "EU", "identifiers": [identifier]} for _ in range(2)]
    job = _import([*lines, _person("visible@example.com")])
    assert (job.imported, job.failed) == (1, 2)
    errors = ImportLineError.objects.filter(job=job)
    assert [(e.line, e.code) for e in errors] == [
        (1, "invalid_identifier"),
        (2, "invalid_identifier"),
    ]
    assert Subject.objects.count() == 1
    assert not Identifier.objects.exclude(kind="email").exists()


@pytest.mark.django_db
def test_a_line_listing_an_identity_twice_does_not_stop_the_import():
    """Two lines of one person go the one-by-one way: writing the identity the second lists
    twice raised an IntegrityError that rolled the chunk back on every run, and the job stayed
    `running` for the sweeper to send again, forever."""
    twice = _person("twice@example.com")
    twice["identifiers"] += [
        {"kind": "email", "value": "TWICE@example.com"},
        {"kind": "customer_id", "value": "C-1"},
        {"kind": "customer_id", "value": "C-1 "},
    ]
    job = _import([_person("twice@example.com"), twice, _person("after@example.com")])
    assert (job.status, job.imported, job.failed) == ("done", 3, 0)
    person = subjects_find_by_identifier(kind="email", value="twice@example.com").get()
    kinds = sorted(person.identifiers.values_list("kind", flat=True))
    assert kinds == ["customer_id", "email"]


def _refusing(monkeypatch, error: Exception) -> None:
    """records_ingest raising `error` for any chunk holding poison@example.com's line."""
    from profiles import services

    real = services.records_ingest

    def refusing(records, **kwargs):
        if any(n == "poison@example.com" for r in records for _k, n, _i, _v in r.identifiers):
            raise error
        return real(records, **kwargs)

    monkeypatch.setattr(services, "records_ingest", refusing)


@pytest.mark.django_db
def test_a_line_whose_write_fails_is_a_line_error_and_the_rest_is_imported(monkeypatch):
    """Whatever the cause (the identity listed twice in a record was one), a line whose write
    raises is reported, found line by line, instead of rolling its chunk back on every run
    while the job stays `running` and the rest of the file is never imported."""
    _refusing(monkeypatch, IntegrityError("UNIQUE constraint failed"))
    people = [_person("first@example.com"), _person("poison@example.com")]
    job = _import([*people, _person("last@example.com")])
    assert (job.status, job.imported, job.failed) == ("done", 2, 1)
    error = ImportLineError.objects.get(job=job)
    assert (error.line, error.code) == (2, "not_stored")
    assert error.message == "The line could not be stored (IntegrityError)."
    assert subjects_find_by_identifier(kind="email", value="last@example.com").exists()


@pytest.mark.django_db
def test_a_lost_database_connection_leaves_the_chunk_for_the_next_run(monkeypatch):
    """The database's state, not the line's: no line is failed, the job runs again."""
    _refusing(monkeypatch, OperationalError("server closed the connection unexpectedly"))
    body = "\n".join(json.dumps(_person(e)) for e in ("first@example.com", "poison@example.com"))
    job = import_job_create(stream=io.BytesIO(body.encode()), actor=ACTOR)
    with pytest.raises(OperationalError):
        import_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert (job.status, job.lines_done, job.failed) == ("running", 0, 0)
    assert not ImportLineError.objects.exists()


@pytest.mark.django_db
def test_an_upload_the_worker_cannot_find_fails_the_job_with_a_reason(settings):
    job = import_job_create(
        stream=io.BytesIO((json.dumps(_person("lost@example.com")) + "\n").encode()), actor=ACTOR
    )
    # A worker on another host, whose CUSTODIA_IMPORT_DIR is not the web server's.
    (settings.CUSTODIA_IMPORT_DIR / f"{job.pk}.ndjson").unlink()

    done = import_job_run(job_id=str(job.pk))

    assert done.status == ImportJob.Status.FAILED
    assert done.finished_at is not None
    error = ImportLineError.objects.get(job=job)
    assert (error.line, error.code) == (0, "upload_missing")
    assert "CUSTODIA_IMPORT_DIR" in error.message
    assert import_job_run(job_id=str(job.pk)) is None  # not claimed again by the sweeper
