"""A worker whose import lease ran out (a long pause, a stalled host) while another took the
job over commits no chunk the other has committed already: each chunk's progress is a
compare-and-set on the lines done when it started, so the job's counts are of its lines once.
PostgreSQL: SQLite runs the two transactions one after the other."""

from __future__ import annotations

import io
import json

import pytest
from django.utils import timezone

from audit.actors import Actor
from profiles import imports, services
from profiles.models import ImportJob, Subject
from tests.races import Writer, postgresql_only, until_done_or_waiting

pytestmark = [postgresql_only, pytest.mark.django_db(transaction=True)]

ACTOR = Actor.system("tests")


def test_a_worker_whose_lease_ran_out_does_not_count_a_chunk_twice(monkeypatch):
    lines = [
        {"region": "EU", "identifiers": [{"kind": "email", "value": f"p{n}@example.com"}]}
        for n in range(3)
    ]
    body = ("\n".join(json.dumps(r) for r in lines) + "\n").encode()
    monkeypatch.setattr(imports, "_import_send", lambda job_id: None)  # run here, not by a worker
    job = imports.import_job_create(stream=io.BytesIO(body), actor=ACTOR)
    takeover = Writer(lambda: imports.import_job_run(job_id=str(job.pk)))
    ingest = services.records_ingest

    def chunk_written_lease_expired(*args, **kwargs):
        outcomes = ingest(*args, **kwargs)
        if takeover.ident is None:  # the first worker, inside its chunk's transaction
            expire = ImportJob.objects.filter(pk=job.pk)  # committed on a connection of its own
            expiry = Writer(lambda: expire.update(lease_expires_at=timezone.now()))
            expiry.start()
            expiry.finish()
            takeover.start()  # the sweeper's new worker claims the job and imports the file
            until_done_or_waiting(takeover.done)
        return outcomes

    monkeypatch.setattr(services, "records_ingest", chunk_written_lease_expired)
    imports.import_job_run(job_id=str(job.pk))
    takeover.finish()

    assert takeover.error is None, takeover.error
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert (job.lines_done, job.imported, job.failed) == (3, 3, 0)
    assert Subject.objects.count() == 3
