"""An officer's legal hold placed while a worker runs the erasure step of the same person: the
hold wins (the step is blocked by it) or the erasure does (the hold is refused: nothing is
left to hold); never a hold on a person already erased. PostgreSQL: SQLite runs the two
transactions one after the other."""

from __future__ import annotations

import pytest

from audit.actors import Actor
from core.errors import ConflictError
from dsar import engine, services, steps
from dsar.models import DataSubjectRequest, LegalHold, RetentionException
from profiles.models import Identifier, Subject
from tests.factories import make_subject
from tests.races import Writer, postgresql_only, until_done_or_waiting

pytestmark = [postgresql_only, pytest.mark.django_db(transaction=True)]

OFFICER = Actor.system("officer")


def _erasure_at_its_erase_step(subject: Subject) -> int:
    dsr, _ = services.request_create(
        kind="erasure", channel="admin", actor=OFFICER, subject=subject, verification="officer"
    )
    if dsr.status == DataSubjectRequest.Status.AWAITING_APPROVAL:
        dsr = services.request_approve(request=dsr, actor=OFFICER)
    locate = engine.step_next(dsr.pk)
    assert locate is not None
    assert engine.step_run(step_id=locate.pk) == "done"
    erase = engine.step_next(dsr.pk)
    assert erase is not None
    assert erase.name == "erase"
    return erase.pk


@pytest.mark.parametrize("path", ["batch", "one by one"])
def test_a_legal_hold_placed_during_the_erase_step_is_never_a_hold_on_an_erased_person(
    path, monkeypatch
):
    subject = make_subject(region="EU", email="litigant@example.com")
    if path == "one by one":  # an active retention exception sends the step through run_erase
        RetentionException.objects.create(event_prefix="invoice.", reason="tax", keep_days=30)
    step_id = _erasure_at_its_erase_step(subject)
    hold = Writer(
        lambda: services.legal_hold_place(subject=subject, reason="litigation 7", actor=OFFICER)
    )

    def after_the_hold_check(original):
        def wrapper(*args, **kwargs):  # inside the step's transaction, its hold check passed
            hold.start()
            until_done_or_waiting(hold.done)
            return original(*args, **kwargs)

        return wrapper

    if path == "batch":
        monkeypatch.setattr(steps, "subjects_erase", after_the_hold_check(steps.subjects_erase))
    else:
        monkeypatch.setattr(steps, "_retained_events", after_the_hold_check(steps._retained_events))

    engine.steps_run_from(step_id=step_id)
    hold.finish()

    subject.refresh_from_db()
    held = LegalHold.objects.filter(subject=subject, released_at=None).exists()
    if subject.status == Subject.Status.ERASED:
        assert not held, "a legal hold was placed on a person the erasure had already erased"
        assert isinstance(hold.error, ConflictError)
    else:
        assert held
        assert hold.error is None
        assert Identifier.objects.filter(subject=subject).exists()


def test_an_officer_refusing_a_request_while_a_worker_completes_its_step_deadlocks_neither():
    """The worker has settled its step (the step row locked) and writes the timeline row,
    which names the request (a key-share lock on it); the officer has locked the request and
    fails the steps left. A full row lock on the request made the two wait on each other
    until PostgreSQL aborted one (deadlock detected); the officer's lock is a no-key update
    lock, which a row naming the request does not wait for."""
    from dsar import engine

    subject = make_subject(region="EU", email="refused@example.com")
    step_id = _erasure_at_its_erase_step(subject)
    dsr = DataSubjectRequest.objects.get(steps__pk=step_id)
    officer = Writer(lambda: services.request_deny(request=dsr, actor=OFFICER, reason="unfounded"))
    original = engine.timeline_add

    def after_the_step_is_settled(**kwargs):
        if not officer.is_alive() and not officer.done.is_set():
            officer.start()
            until_done_or_waiting(officer.done)  # the officer holds the request, waits for a step
        return original(**kwargs)

    engine.timeline_add = after_the_step_is_settled
    try:
        outcome = engine.step_run(step_id=step_id, enqueue=False)
    finally:
        engine.timeline_add = original
    officer.finish()
    assert officer.error is None, officer.error
    assert outcome == "done"
    dsr.refresh_from_db()
    assert dsr.status == DataSubjectRequest.Status.REJECTED
