"""Identity resolution: deterministic on blind indexes, probabilistic with a confidence score."""

import pytest

from audit.actors import Actor
from profiles.models import Event, Identifier, MatchReview, MergeLineage, Subject
from profiles.services import match_review_decide, subject_upsert
from tests.factories import make_subject

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def _upsert(**record):
    return subject_upsert(record={"region": "EU", **record}, actor=SYSTEM)


def test_same_email_in_another_case_matches_the_existing_subject():
    subject = make_subject(email="Zoe.Martin@example.com")
    result = _upsert(identifiers=[{"kind": "email", "value": " zoe.martin@EXAMPLE.com "}])
    assert result.subject_id == subject.pk
    assert not result.created


def test_phone_in_another_format_matches_through_e164():
    subject = make_subject(email="x@example.com", phone="+44 7700 900123")
    result = _upsert(identifiers=[{"kind": "phone", "value": "+447700900123"}])
    assert result.subject_id == subject.pk


def test_a_record_linking_two_subjects_merges_them_deterministically_with_lineage():
    older = make_subject(email="a@example.com", events=2)
    newer = make_subject(email="b@example.com", customer_id="C-42", events=1)
    result = _upsert(
        identifiers=[
            {"kind": "email", "value": "a@example.com"},
            {"kind": "customer_id", "value": "C-42"},
        ]
    )
    assert result.subject_id == older.pk
    assert result.merged == [newer.pk]
    newer.refresh_from_db()
    assert newer.status == Subject.Status.MERGED
    assert newer.merged_into_id == older.pk
    values = sorted((i.kind, i.value) for i in Identifier.objects.filter(subject=older))
    # The merged subject's identifiers were re-encrypted under the survivor's key: readable.
    assert values == [
        ("customer_id", "C-42"),
        ("email", "a@example.com"),
        ("email", "b@example.com"),
    ]
    assert Event.objects.filter(subject=older).count() == 3
    lineage = MergeLineage.objects.get(survivor=older)
    assert lineage.merged_subject_id == newer.pk
    assert lineage.method == "deterministic"


def test_name_postcode_and_birth_date_agreeing_merge_automatically():
    first = make_subject(
        email="p1@example.com", name="Ines Costa", postcode="1000-001", birth_date="1988-04-12"
    )
    result = _upsert(
        identifiers=[{"kind": "email", "value": "ines.other@example.com"}],
        attributes={"name": "ines  COSTA", "postcode": "1000 001", "birth_date": "1988-04-12"},
    )
    assert result.subject_id == first.pk
    lineage = MergeLineage.objects.get(survivor=first)
    assert lineage.method == "probabilistic"
    assert lineage.confidence == pytest.approx(1.0, abs=1e-3)  # a match probability
    # The full name is compared as first and last name (each with its own weights).
    assert sorted(lineage.signals) == ["birth_date", "first_name", "last_name", "postcode"]
    assert lineage.model_version == 0
    assert lineage.weight > 0
    assert {row["field"] for row in lineage.explanation} >= {"first_name", "birth_date"}


def test_partial_agreement_opens_a_review_instead_of_merging():
    # With fuzzy comparisons, an exact name and birth date are strong enough to merge (a person
    # who moved); a transposed birth date in another postcode is only probable: a review.
    first = make_subject(
        email="q1@example.com", name="Liam Roy", birth_date="1990-01-02", postcode="H2X"
    )
    result = _upsert(
        identifiers=[{"kind": "email", "value": "q2@example.com"}],
        attributes={"name": "Liam Roy", "birth_date": "1990-02-01", "postcode": "M5V"},
    )
    assert result.created
    assert result.review_items == 1
    review = MatchReview.objects.get()
    assert review.candidate_id == first.pk
    assert 0.5 < review.score < 0.995  # below the target precision of an auto-merge
    levels = {row["field"]: row["level"] for row in review.explanation}
    assert levels["birth_date"] == "day/month transposed"
    assert levels["postcode"] == "else"


def test_a_single_shared_signal_does_nothing():
    make_subject(email="r1@example.com", name="Emma Brown")
    result = _upsert(
        identifiers=[{"kind": "email", "value": "r2@example.com"}],
        attributes={"name": "Emma Brown"},
    )
    assert result.created
    assert result.review_items == 0
    assert not MatchReview.objects.exists()


def test_accepting_a_review_merges_and_rejecting_keeps_both():
    first = make_subject(email="s1@example.com", name="Ana Silva", birth_date="1970-07-08")
    _upsert(
        identifiers=[{"kind": "email", "value": "s2@example.com"}],
        attributes={"name": "Anna Silva", "birth_date": "1970-07-07"},
    )
    review = MatchReview.objects.get()
    match_review_decide(review=review, accept=True, actor=SYSTEM)
    assert Subject.objects.filter(status=Subject.Status.ACTIVE).count() == 1
    assert MergeLineage.objects.get(survivor=first).method == "review"
