"""A write for a person being erased at that moment (an API upsert, an import chunk, an inbox
drain) never brings them back: their identities are suppressed by the erasure, and a write
that did not see the suppression when it started sees it before it commits."""

from __future__ import annotations

import pytest

from audit.actors import Actor
from core.errors import ConflictError
from profiles import services
from profiles.crypto.blind_index import index_of
from profiles.models import Attribute, Identifier, Subject
from profiles.services import IdentitySuppressed, ingest, ingest_chunk
from profiles.services import matching as matching_service
from tests.factories import make_subject
from tests.races import Writer, postgresql_only, until_done_or_waiting

SYSTEM = Actor.system("tests")
EMAIL = "leaving@example.com"
RECORD = {
    "region": "EU",
    "identifiers": [{"kind": "email", "value": EMAIL}],
    "attributes": {"name": "Lea Ving"},
}


def _held_by_anyone() -> bool:
    return Identifier.objects.filter(value_index=index_of("email", EMAIL)).exists()


def _erase(subject: Subject) -> None:
    services.subject_erase(subject_id=subject.pk, actor=SYSTEM, reason="erasure request")


def _erased_right_after(module, name: str, subject: Subject, monkeypatch) -> None:
    """The erasure commits just after `module.name` ran (the write's suppression check)."""
    original = getattr(module, name)

    def then_erase(*args, **kwargs):
        result = original(*args, **kwargs)
        _erase(subject)
        return result

    monkeypatch.setattr(module, name, then_erase)


@pytest.mark.django_db
def test_an_upsert_checked_before_an_erasure_committed_does_not_recreate_the_person(
    monkeypatch,
):
    subject = make_subject(region="EU", email=EMAIL)
    _erased_right_after(ingest, "_check_suppression", subject, monkeypatch)

    with pytest.raises(IdentitySuppressed):
        services.subject_upsert(record=RECORD, actor=SYSTEM)

    assert not _held_by_anyone()
    assert not Subject.objects.exclude(pk=subject.pk).exists()


@pytest.mark.django_db
def test_an_import_chunk_checked_before_an_erasure_committed_does_not_recreate_the_person(
    monkeypatch,
):
    subject = make_subject(region="EU", email=EMAIL)
    _erased_right_after(ingest_chunk, "suppressed_among", subject, monkeypatch)
    records = [
        ingest.parse_record(RECORD),
        ingest.parse_record(
            {"region": "EU", "identifiers": [{"kind": "email", "value": "staying@example.com"}]}
        ),
    ]

    outcomes = services.records_ingest(records, actor=SYSTEM)

    assert isinstance(outcomes[0], IdentitySuppressed)
    assert isinstance(outcomes[1], type(subject.pk))  # the other line of the chunk is written
    assert not _held_by_anyone()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_an_upsert_waiting_on_a_person_being_erased_does_not_recreate_them(monkeypatch):
    subject = make_subject(region="EU", email=EMAIL)
    upsert = Writer(lambda: services.subject_upsert(record=RECORD, actor=SYSTEM))
    drop = matching_service.match_profile_drop

    def rows_deleted_not_committed(subject_id):  # inside the erasure's transaction
        drop(subject_id)
        upsert.start()
        until_done_or_waiting(upsert.done)

    monkeypatch.setattr(matching_service, "match_profile_drop", rows_deleted_not_committed)
    _erase(subject)
    upsert.finish()

    assert isinstance(upsert.error, IdentitySuppressed), upsert.error or upsert.result
    assert not _held_by_anyone()
    assert not Subject.objects.exclude(pk=subject.pk).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_merge_waiting_on_a_person_being_erased_does_not_bring_their_rows_back(monkeypatch):
    survivor = make_subject(region="EU", email="keeper@example.com")
    leaving = make_subject(region="EU", email=EMAIL, name="Lea Ving")
    merge = Writer(
        lambda: services.subjects_merge(
            survivor=survivor,
            merged=leaving,
            method="review",
            confidence=0.9,
            signals=["name"],
            actor=SYSTEM,
        )
    )
    drop = matching_service.match_profile_drop

    def rows_deleted_not_committed(subject_id):  # inside the erasure's transaction
        drop(subject_id)
        if merge.ident is None:  # the erasure's call (the merge calls it too)
            merge.start()
            until_done_or_waiting(merge.done)

    monkeypatch.setattr(matching_service, "match_profile_drop", rows_deleted_not_committed)
    _erase(leaving)
    merge.finish()

    assert not _held_by_anyone(), "the erased person's identifier was moved to the survivor"
    assert not Attribute.objects.filter(subject=survivor, key="name").exists()
    leaving.refresh_from_db()
    assert leaving.status == Subject.Status.ERASED
    assert isinstance(merge.error, ConflictError), merge.error or merge.result
