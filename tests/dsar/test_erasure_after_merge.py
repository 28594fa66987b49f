"""A person named by an erasure request may be merged into another record (the same person)
before the erase step runs: the erasure follows them to the survivor, which holds their data
now, instead of erasing the emptied record and closing as done."""

from __future__ import annotations

import pytest

from audit.actors import Actor
from dsar import engine, services
from dsar.models import DataSubjectRequest, RetentionException
from profiles.models import Identifier, Subject, SuppressedIdentity
from profiles.services import subjects_merge
from tests.factories import make_subject

pytestmark = pytest.mark.django_db

OFFICER = Actor.system("officer")


@pytest.mark.parametrize("path", ["batch", "one by one"])
def test_an_erasure_follows_its_subject_merged_after_the_request_named_it(path):
    if path == "one by one":  # an active retention exception sends the step through run_erase
        RetentionException.objects.create(event_prefix="invoice.", reason="tax", keep_days=30)
    named = make_subject(region="EU", email="ana@example.com")
    survivor = make_subject(region="EU", email="ana.silva@example.com")
    dsr, _ = services.request_create(
        kind="erasure", channel="admin", actor=OFFICER, subject=named, verification="officer"
    )
    if dsr.status == DataSubjectRequest.Status.AWAITING_APPROVAL:
        dsr = services.request_approve(request=dsr, actor=OFFICER)
    locate = engine.step_next(dsr.pk)
    assert engine.step_run(step_id=locate.pk) == "done"
    subjects_merge(
        survivor=survivor, merged=named, method="manual", confidence=1.0, signals=[], actor=OFFICER
    )
    erase = engine.step_next(dsr.pk)
    assert erase.name == "erase"
    assert engine.step_run(step_id=erase.pk) == "done"

    survivor.refresh_from_db()
    dsr.refresh_from_db()
    assert survivor.status in (Subject.Status.ERASED, Subject.Status.RESTRICTED)
    assert dsr.subject_id == survivor.pk
    assert not Identifier.objects.filter(subject=survivor).exists()
    assert SuppressedIdentity.objects.count() >= 2  # both addresses, now the survivor's
