"""An import chunk decides the lines the model could match set-based: a line whose one
candidate is above the auto-merge weight is merged into it in bulk (with the lineage, model
version, score and explanation a one-by-one merge records), a line with candidates between
the thresholds is created in bulk with its review items, and only ambiguous lines go one by
one through `subject_upsert`."""

import io
import json

import pytest

from audit.actors import Actor
from audit.models import AuditEvent
from audit.verify import verify_chain
from profiles.imports import import_job_create, import_job_run
from profiles.matching import encode
from profiles.models import (
    Attribute,
    Identifier,
    MatchProfile,
    MatchReview,
    MergeLineage,
    Subject,
    SubjectKey,
)
from profiles.selectors import subjects_find_by_identifier
from profiles.services import subject_split
from tests.factories import make_subject

ACTOR = Actor.system("tests")
ADA = {"birth_date": "1990-12-10", "postcode": "75001", "address": "3 rue de la paix"}


def _import(records: list[dict]):
    body = ("\n".join(json.dumps(r) for r in records) + "\n").encode()
    job = import_job_create(stream=io.BytesIO(body), actor=ACTOR)
    return import_job_run(job_id=str(job.pk))


def _line(email: str, **attributes) -> dict:
    return {
        "region": "EU",
        "identifiers": [{"kind": "email", "value": email}],
        "attributes": attributes,
        "events": [{"name": "signup", "payload": {"plan": "basic"}}],
    }


@pytest.fixture
def one_by_one(monkeypatch) -> list[str]:
    """The e-mails of the lines that took the one-by-one upsert (looked up at each call)."""
    from profiles.services import ingest_chunk

    real, calls = ingest_chunk.subject_upsert_parsed, []

    def counted(parsed, **kwargs):
        calls.append(next(value for kind, value, _i, _v in parsed.identifiers if kind == "email"))
        return real(parsed, **kwargs)

    monkeypatch.setattr(ingest_chunk, "subject_upsert_parsed", counted)
    return calls


def _value(row, subject):
    row.subject = subject
    return row.value


@pytest.mark.django_db
def test_a_typo_duplicate_in_a_chunk_is_merged_in_bulk_with_its_model_version_and_score(
    one_by_one,
):
    ada = make_subject(email="ada@example.com", first_name="Ada", last_name="Byron", **ADA)
    job = _import(
        [
            _line("ada.b@example.com", first_name="Ada", last_name="Byrom", city="Paris", **ADA),
            _line("other@example.com", first_name="Peter", last_name="Novak"),
        ]
    )
    assert (job.imported, job.failed) == (2, 0)
    assert one_by_one == []  # both lines written set-based

    assert subjects_find_by_identifier(kind="email", value="ada.b@example.com").get() == ada
    lineage = MergeLineage.objects.get(survivor=ada)
    assert lineage.method == "probabilistic"
    assert lineage.model_version == 0
    assert lineage.weight > 0
    assert 0.995 <= lineage.confidence <= 1.0
    levels = {row["field"]: row["level"] for row in lineage.explanation}
    assert levels["last_name"] not in ("exact", "else", "missing")  # the typo, fuzzily
    assert levels["birth_date"] == "exact"
    assert "last_name" in lineage.signals
    merged = Subject.objects.get(pk=lineage.merged_subject_id)
    assert (merged.status, merged.merged_into_id) == (Subject.Status.MERGED, ada.pk)
    assert not SubjectKey.objects.filter(subject_id=merged.pk).exists()  # its key is gone

    # The survivor keeps its own values, gains the ones it lacked (readable under its key),
    # and its encodings now include the new value.
    assert _value(Attribute.objects.get(subject=ada, key="last_name"), ada) == "Byron"
    assert _value(Attribute.objects.get(subject=ada, key="city"), ada) == "Paris"
    assert "city" in MatchProfile.objects.get(subject=ada).encodings
    email = Identifier.objects.get(subject=ada, value_index=lineage_index("ada.b@example.com"))
    assert _value(email, ada) == "ada.b@example.com"

    merges = AuditEvent.objects.filter(action="profiles.subject.merge")
    assert {e.subject_id for e in merges} == {ada.pk, merged.pk}
    assert AuditEvent.objects.filter(action="profiles.subject.create", subject_id=merged.pk)
    assert verify_chain().ok

    # A split gives the line's rows back, as after a one-by-one merge.
    restored = subject_split(lineage=lineage, actor=ACTOR, reason="not the same person")
    assert subjects_find_by_identifier(kind="email", value="ada.b@example.com").get() == restored
    assert _value(Attribute.objects.get(subject=restored, key="city"), restored) == "Paris"
    assert not Attribute.objects.filter(subject=ada, key="city").exists()


def lineage_index(email: str) -> str:
    from profiles.crypto.blind_index import blind_index, normalize

    return blind_index("email", normalize("email", email))


@pytest.mark.django_db
def test_a_line_between_the_thresholds_opens_a_review_in_bulk(one_by_one):
    older = make_subject(email="c1@example.com", name="Ana Silva", birth_date="1970-07-08")
    job = _import([_line("c2@example.com", name="Anna Silva", birth_date="1970-07-07")])
    assert (job.imported, job.failed) == (1, 0)
    assert one_by_one == []
    created = subjects_find_by_identifier(kind="email", value="c2@example.com").get()
    review = MatchReview.objects.get()
    assert (review.subject, review.candidate) == (created, older)
    assert review.status == MatchReview.Status.PENDING
    assert review.model_version == 0
    assert 0.05 < review.score < 0.995
    assert len(review.levels) == 6
    assert {row["field"] for row in review.explanation} >= {"first_name", "birth_date"}
    assert MatchProfile.objects.filter(subject=created).exists()


@pytest.mark.django_db
def test_a_line_matching_two_people_above_the_threshold_goes_one_by_one(one_by_one):
    from profiles.services import subject_rectify

    first = make_subject(email="t1@example.com", first_name="Ada", last_name="Byron", **ADA)
    second = make_subject(email="t2@example.com", first_name="Bob", last_name="Stone")
    # Twins: two active people (never compared since) the line matches equally well.
    corrections = {"first_name": "Ada", "last_name": "Byron", **ADA}
    subject_rectify(subject=second, corrections=corrections, actor=ACTOR, reason="typo")
    twins = [first, second]
    line = _line("t3@example.com", first_name="Ada", last_name="Byron", **ADA)
    job = _import([line, _line("calm@example.com", first_name="Peter", last_name="Novak")])
    assert (job.imported, job.failed) == (2, 0)
    assert one_by_one == [
        line["identifiers"][0]["value"]
    ]  # ambiguous: the one-by-one upsert decides
    assert MergeLineage.objects.filter(survivor__in=twins).count() == 1


@pytest.mark.django_db
def test_two_lines_merging_into_one_person_go_one_by_one_in_file_order(one_by_one):
    ada = make_subject(email="ada@example.com", first_name="Ada", last_name="Byron", **ADA)
    first = _line("a2@example.com", first_name="Ada", last_name="Byrom", city="Paris", **ADA)
    second = _line("a3@example.com", first_name="Adah", last_name="Byron", city="Lyon", **ADA)
    job = _import([first, second])
    assert (job.imported, job.failed) == (2, 0)
    assert one_by_one == [r["identifiers"][0]["value"] for r in (first, second)]
    assert MergeLineage.objects.filter(survivor=ada).count() == 2
    assert _value(Attribute.objects.get(subject=ada, key="city"), ada) == "Paris"  # first wins


def _person(n: int) -> dict[str, str]:
    """Distinct people sharing no blocking key: a distinct Soundex code for each name, a
    distinct birth date and postcode."""
    groups = "bcdlmr"
    code = "a".join(groups[(n // 6**i) % 6] for i in (2, 1, 0))
    return {
        "first_name": "Anna" + code,
        "last_name": "Sa" + code,
        "birth_date": f"{1930 + n}-0{1 + n % 9}-1{n % 10}",
        "postcode": f"{10000 + 7 * n}",
    }


@pytest.mark.django_db
@pytest.mark.parametrize("people", [5, 60])
def test_merges_of_a_chunk_need_the_same_queries_for_5_or_60_people(
    people, django_assert_max_num_queries, one_by_one
):
    from profiles.models import ImportJob

    def run(records: list[dict], budget: int) -> ImportJob:
        body = ("\n".join(json.dumps(r) for r in records) + "\n").encode()
        job = import_job_create(stream=io.BytesIO(body), actor=ACTOR)
        with django_assert_max_num_queries(budget):
            return import_job_run(job_id=str(job.pk))

    # Each run counts the suppression check made again once the chunk's rows are written.
    run([_line(f"q{n}@example.com", **_person(n)) for n in range(people)], 29)
    # Among them one read of the status and region of the candidates that reach the review
    # weight, apart from their encodings (`match_contests_batch`), once for the whole chunk.
    job = run([_line(f"r{n}@example.com", **_person(n), city="Nice") for n in range(people)], 38)
    assert (job.imported, job.failed) == (people, 0)
    assert one_by_one == []
    assert MergeLineage.objects.filter(method="probabilistic").count() == people
    assert Subject.objects.filter(status=Subject.Status.ACTIVE).count() == people
    assert all("city" in p.encodings for p in MatchProfile.objects.all())
    assert encode(_person(0)).blocks  # the people do block (and are matched)
