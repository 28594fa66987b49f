"""Steps of many requests claimed and run together: the same effects as one by one, each step
still fenced by its attempt, and a number of queries that does not grow with the requests."""

import io
import json
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.actors import Actor
from audit.services import audit_chain_check
from dsar import archive, engine, services
from dsar.models import DataSubjectRequest, LegalHold, RequestStep, TimelineEntry
from dsar.record import request_purge_contact, timeline_add, timeline_batch
from profiles.crypto.keyring import DecryptionError
from profiles.models import Event, Identifier, Subject, SubjectKey, SuppressedIdentity
from tests.factories import make_subject

SERVICE = Actor.system("crm")
Status = DataSubjectRequest.Status
# Statements of one task running a wave of erasures through their 5 steps (claims, fences,
# runners, settles, timeline, audit), whatever the number of requests (up to a batch): 95 on
# SQLite, 98 on PostgreSQL (the audit chain's advisory locks). Timeline lines without a note
# insert no data keys (6 statements fewer than with a key per line).
ERASURE_WAVE_BUDGET = 98


@pytest.fixture(autouse=True)
def _no_approval(settings):
    settings.CUSTODIA_DSAR_APPROVAL_REQUIRED = []


def _wave(n: int, *, prefix: str) -> list[DataSubjectRequest]:
    requests = []
    for i in range(n):
        subject = make_subject(region="EU", email=f"{prefix}{i}@example.com", name="P", events=2)
        request, _ = services.request_create(
            kind="erasure", channel="api", actor=SERVICE, subject=subject, verification="service"
        )
        requests.append(request)
    return requests


def _first_step(request: DataSubjectRequest) -> RequestStep:
    return RequestStep.objects.get(request=request, position=0)


def _run_wave(requests: list[DataSubjectRequest]) -> list[str]:
    return engine.steps_run_from(step_id=_first_step(requests[0]).pk)


def test_one_task_erases_a_whole_wave_of_requests_as_one_by_one_would():
    requests = _wave(6, prefix="w")
    outcomes = _run_wave(requests)
    assert outcomes.count("done") == 6 * 5
    subject_ids = [r.subject_id for r in requests]
    assert set(
        DataSubjectRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list(
            "status", flat=True
        )
    ) == {Status.COMPLETED}
    assert not Identifier.objects.filter(subject_id__in=subject_ids).exists()
    assert not Event.objects.filter(subject_id__in=subject_ids).exists()
    assert not SubjectKey.objects.filter(subject_id__in=subject_ids).exists()
    assert SuppressedIdentity.objects.count() == 6
    assert set(Subject.objects.filter(pk__in=subject_ids).values_list("status", flat=True)) == {
        Subject.Status.ERASED
    }
    closed = DataSubjectRequest.objects.get(pk=requests[3].pk)
    assert closed.result["erase"]["identifiers"] == 1
    assert closed.result["erase"]["events"] == 2
    assert closed.result["erase"]["data_key_destroyed"] is True
    assert closed.purged_at is not None
    assert list(closed.timeline.values_list("message", flat=True))[-2:] == [
        "status: Completed",
        "close: done",
    ]
    assert audit_chain_check().ok


def test_a_held_subject_blocks_its_own_request_and_not_the_rest_of_the_batch():
    requests = _wave(4, prefix="h")
    LegalHold.objects.create(subject=requests[1].subject, reason="litigation", created_by="dpo")
    _run_wave(requests)
    states = dict(
        DataSubjectRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list(
            "pk", "status"
        )
    )
    assert states.pop(requests[1].pk) == Status.REJECTED
    assert set(states.values()) == {Status.COMPLETED}
    assert Identifier.objects.filter(subject_id=requests[1].subject_id).exists()


def test_a_step_taken_over_by_another_attempt_is_not_applied_by_the_batch():
    requests = _wave(3, prefix="f")
    batch = engine.steps_claim(step_id=_first_step(requests[0]).pk, name="locate", limit=10)
    assert len(batch) == 3
    # Another worker took the second step over after its lease ran out.
    RequestStep.objects.filter(pk=batch[1].pk).update(attempts=batch[1].attempts + 1)
    outcomes = engine.steps_run_batch(batch)
    assert outcomes[batch[1].pk] == "superseded"
    assert outcomes[batch[0].pk] == outcomes[batch[2].pk] == "done"
    assert RequestStep.objects.get(pk=batch[1].pk).status == RequestStep.Status.RUNNING


def _queries_for_wave(n: int, prefix: str) -> int:
    requests = _wave(n, prefix=prefix)
    with CaptureQueriesContext(connection) as queries:
        outcomes = _run_wave(requests)
    assert outcomes.count("done") == n * 5
    return len(queries)


def test_an_erasure_batch_takes_a_number_of_queries_that_does_not_grow_with_the_requests(
    django_assert_max_num_queries,
):
    small = _queries_for_wave(3, "q")
    large = _queries_for_wave(12, "r")
    assert large == small, (small, large)
    assert small <= ERASURE_WAVE_BUDGET, small
    requests = _wave(25, prefix="s")
    with django_assert_max_num_queries(ERASURE_WAVE_BUDGET):
        _run_wave(requests)


def _export_queries(events: int, email: str) -> tuple[int, int]:
    subject = make_subject(region="EU", email=email, name="E", events=events)
    request, _ = services.request_create(
        kind="access", channel="api", actor=SERVICE, subject=subject, verification="service"
    )
    with CaptureQueriesContext(connection) as queries:
        content = archive.package(archive.collect(request))
    with zipfile.ZipFile(io.BytesIO(content)) as unzipped:
        written = len(json.loads(unzipped.read("data.json"))["events"])
        rows = len(unzipped.read("events.csv").decode().strip().splitlines()) - 1
    assert written == rows == events
    return len(queries), written


def test_an_export_takes_a_number_of_queries_that_does_not_grow_with_the_events(
    django_assert_max_num_queries,
):
    few, _ = _export_queries(3, "few@example.com")
    many, _ = _export_queries(60, "many@example.com")
    assert many == few, (few, many)
    subject = make_subject(region="EU", email="more@example.com", name="M", events=120)
    request, _ = services.request_create(
        kind="access", channel="api", actor=SERVICE, subject=subject, verification="service"
    )
    with django_assert_max_num_queries(few):
        archive.package(archive.collect(request))


def test_timeline_lines_without_a_note_hold_no_key_and_a_purge_still_destroys_the_notes():
    (request,) = _wave(1, prefix="n")
    with timeline_batch():
        timeline_add(request=request, actor=SERVICE, kind="note", message="note", note="By phone")
        timeline_add(request=request, actor=SERVICE, kind="step", message="locate: done")
    timeline_add(request=request, actor=SERVICE, kind="step", message="erase: done")
    lines = list(TimelineEntry.objects.filter(request=request))
    keyed = set(
        SubjectKey.objects.filter(subject_id__in=[e.pk for e in lines]).values_list(
            "subject_id", flat=True
        )
    )
    noted = [e for e in lines if e.kind == "note"]
    assert keyed == {noted[0].pk}  # every line of a wave is written without a key
    raw = dict(TimelineEntry.objects.filter(request=request).values_list("message", "note"))
    assert raw["locate: done"] == raw["erase: done"] == ""
    assert raw["note"] not in ("", "By phone")
    assert {e.note for e in lines if e.kind != "note"} == {""}
    assert noted[0].note == "By phone"

    request_purge_contact(request=request)
    after = {e.message: e for e in TimelineEntry.objects.filter(request=request)}
    assert after["erase: done"].note == ""  # the PII-free record stays readable
    with pytest.raises(DecryptionError):
        _ = after["note"].note
