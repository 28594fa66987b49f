"""Bulk NDJSON import: any size, streamed, committed in chunks, resumable, with a per-line
error report (line number and reason, never the line's content)."""

from __future__ import annotations

import codecs
import contextlib
import gc
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from rest_framework.exceptions import ParseError

from audit.actors import Actor
from audit.services import audit_record
from core.errors import DomainError, PayloadTooLargeError
from core.parsers import json_loads_checked
from core.regions import KNOWN_REGIONS
from core.wake import publish
from profiles.models import ImportJob, ImportLineError, System

logger = logging.getLogger(__name__)

CHUNK_LINES = 2000
UPLOAD_MISSING_MESSAGE = (
    "The uploaded file was not found by the worker: the web server and the workers must share "
    "CUSTODIA_IMPORT_DIR. Upload the file again."
)
LEASE_SECONDS = 300


def _path(job: ImportJob) -> Path:
    return Path(settings.CUSTODIA_IMPORT_DIR) / f"{job.pk}.ndjson"


def _import_send(job_id: uuid.UUID) -> None:
    # Sent by its registered task name: profiles.tasks imports this module, not the reverse.
    try:
        publish("profiles.run_import", [str(job_id)])
    except BrokerError:
        # The job is committed and stays pending: the beat sweeper sends it once the broker is
        # back (import_jobs_resume_stalled), so the upload is not answered with a 500.
        logger.warning("broker unreachable: import %s left to the sweeper", job_id)


def import_job_create(
    *, stream: IO[bytes], actor: Actor, source: System | None = None, region: str = ""
) -> ImportJob:
    """Store the upload under var/imports (mode 0600) and queue its import after commit.
    An upload over CUSTODIA_IMPORT_MAX_BYTES is removed and refused (413), whatever its
    announced length.

    The job keeps the actor's region scope: the worker applies it to every line (a line for a
    region outside it fails with `region_not_allowed`), so task arguments stay ids only."""
    from profiles.services import region_check

    if region and region.upper() not in KNOWN_REGIONS:
        raise DomainError(
            "Unknown region.", fields={"region": [f"one of {', '.join(KNOWN_REGIONS)}"]}
        )
    if region:
        region_check(region=region.upper(), actor=actor)
    job = ImportJob(
        id=uuid.uuid4(),
        source=source,
        region=region.upper(),
        regions=None if actor.regions is None else sorted(actor.regions),
        file_name="upload.ndjson",
        created_by=actor.label,
    )
    path = _path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = 0
    with open(path, "wb") as out:
        path.chmod(0o600)
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            out.write(chunk)
            lines += chunk.count(b"\n")
            if out.tell() > settings.CUSTODIA_IMPORT_MAX_BYTES:
                break
        if out.tell() and not chunk.endswith(b"\n"):
            lines += 1
        size = out.tell()
    if size > settings.CUSTODIA_IMPORT_MAX_BYTES:
        path.unlink()
        raise PayloadTooLargeError("The upload is over the import size limit.")
    job.lines_total = lines
    with transaction.atomic():
        job.save()
        audit_record(
            actor=actor,
            action="profiles.import.create",
            object_type="profiles.importjob",
            object_id=job.pk,
            reason=f"{lines} lines",
        )
        transaction.on_commit(lambda: _import_send(job.pk))
    return job


def _claim(job_id: str) -> ImportJob | None:
    """Claim-then-check: only one worker runs a job; an expired lease may be taken over."""
    now = timezone.now()
    lease = now + timezone.timedelta(seconds=LEASE_SECONDS)
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PENDING).update(
        status=ImportJob.Status.RUNNING, started_at=now, lease_expires_at=lease
    )
    if not claimed:
        claimed = ImportJob.objects.filter(
            pk=job_id, status=ImportJob.Status.RUNNING, lease_expires_at__lt=now
        ).update(lease_expires_at=lease)
    return ImportJob.objects.get(pk=job_id) if claimed else None


class _Superseded(Exception):
    """Another worker moved the job's progress: this one's lease ran out and it was taken over."""


def import_job_run(*, job_id: str) -> ImportJob | None:
    """Import lines after `lines_done`; each chunk of lines commits with its progress, so a
    crash repeats at most one chunk, and upserts are idempotent for repeated lines."""
    job = _claim(job_id)
    if job is None:
        return None
    actor = Actor.system(
        f"import:{job.pk}", regions=None if job.regions is None else frozenset(job.regions)
    )
    path = _path(job)
    if not path.exists():
        return _job_fail_upload_missing(job)
    try:
        _import_lines(job, path, actor)
    except _Superseded:
        return None  # the worker that took the job over finishes it
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE, finished_at=timezone.now(), lease_expires_at=None
    )
    path.unlink(missing_ok=True)  # the plaintext upload must not outlive the import
    job.refresh_from_db()
    return job


def _import_lines(job: ImportJob, path: Path, actor: Actor) -> None:
    with open(path, "rb") as handle, _collector_frozen():
        line_no = 0
        pending: list[tuple[int, bytes]] = []
        for raw in handle:
            line_no += 1
            if line_no <= job.lines_done:
                continue
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]  # saved "UTF-8 with BOM" (Windows editors)
            pending.append((line_no, raw))
            if len(pending) >= CHUNK_LINES:
                _import_chunk(job, pending, actor)
                pending = []
        if pending:
            _import_chunk(job, pending, actor)


def _job_fail_upload_missing(job: ImportJob) -> ImportJob:
    """The upload is not where this worker looks (CUSTODIA_IMPORT_DIR not shared with the web
    server that stored it, or removed): fail the job with a reason an operator can act on,
    instead of raising on every retry while the job stays `running`."""
    logger.error(
        "import %s failed: its upload is not in CUSTODIA_IMPORT_DIR (%s) on this worker; "
        "the web server and the workers must share that directory",
        job.pk,
        settings.CUSTODIA_IMPORT_DIR,
    )
    with transaction.atomic():
        _line_error(job, 0, "upload_missing", UPLOAD_MISSING_MESSAGE)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, finished_at=timezone.now(), lease_expires_at=None
        )
    job.refresh_from_db()
    return job


@contextlib.contextmanager
def _collector_frozen() -> Iterator[None]:
    """Move every object alive now out of the cyclic garbage collector's reach for the import
    (gc.freeze), given back when it ends: a chunk allocates tens of thousands of rows, and each
    full collection they trigger would otherwise walk the whole process (Django, the app),
    about a quarter of an import's CPU time. Objects freed meanwhile by reference counting go
    as usual; only cycles among the frozen ones wait for the end."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _import_chunk(job: ImportJob, lines: list[tuple[int, bytes]], actor: Actor) -> None:
    """Validate the chunk's lines and upsert them (`records_ingest`: the certainly-new people
    and certain updates together, the lines the model merges into a known person or proposes
    for review too, the ambiguous ones one by one in their order); commit with the progress.
    A query budget that does not grow with the chunk's size, except for the lines that need
    the one-by-one path.

    If that fails for a reason other than the database's state (a lost connection, a lock
    timeout: OperationalError, raised for the job to run again), the chunk is done again line
    by line, and a line that fails again is a line error naming the error's type: one line the
    code or the database cannot take would otherwise roll its chunk back on every run, and the
    rest of the file would never be imported."""
    try:
        _chunk_commit(job, lines, actor, line_by_line=False)
    except (OperationalError, InterfaceError, _Superseded):
        raise
    except Exception as exc:
        logger.warning("import %s: a chunk failed (%s); line by line", job.pk, type(exc).__name__)
        _chunk_commit(job, lines, actor, line_by_line=True)
    job.lines_done = lines[-1][0]


def _chunk_commit(
    job: ImportJob, lines: list[tuple[int, bytes]], actor: Actor, *, line_by_line: bool
) -> None:
    from profiles import services

    with transaction.atomic():
        parsed, failed = _chunk_parse(job, lines, actor)
        if line_by_line:
            outcomes = _lines_ingest(job, parsed, actor)
        else:
            records = [record for _, _, record in parsed]
            outcomes = services.records_ingest(records, actor=actor, source=job.source)
        imported = 0
        for (line_no, _, _), outcome in zip(parsed, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                failed += _error_of(job, line_no, outcome)
            else:
                imported += 1
        # Compare-and-set on the progress this chunk started from: a worker that took the job
        # over meanwhile (this one's lease ran out) has moved it, and this chunk rolls back.
        held = ImportJob.objects.filter(pk=job.pk, lines_done=job.lines_done).update(
            lines_done=lines[-1][0],
            imported=F("imported") + imported,
            failed=F("failed") + failed,
            lease_expires_at=timezone.now() + timezone.timedelta(seconds=LEASE_SECONDS),
        )
        if not held:
            raise _Superseded


class LineNotStored(DomainError):
    code = "not_stored"


def _lines_ingest(job: ImportJob, parsed: list[tuple[int, dict, Any]], actor: Actor) -> list[Any]:
    """`records_ingest` of each line on its own; a line that raises (other than for the
    database's state) is LineNotStored, its error's type named, never its values."""
    from profiles import services

    outcomes: list[Any] = []
    for line_no, _, record in parsed:
        try:
            with transaction.atomic():
                outcomes += services.records_ingest([record], actor=actor, source=job.source)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            name = type(exc).__name__
            logger.warning("import %s: line %s not stored (%s)", job.pk, line_no, name)
            outcomes.append(LineNotStored(f"The line could not be stored ({name})."))
    return outcomes


def _chunk_parse(
    job: ImportJob, lines: list[tuple[int, bytes]], actor: Actor
) -> tuple[list[tuple[int, dict, Any]], int]:
    """The chunk's valid lines (line number, record, parsed record) and how many failed
    (each failure recorded as a line error)."""
    from profiles import services

    parsed: list[tuple[int, dict, Any]] = []
    failed = 0
    for line_no, raw in lines:
        if not raw.strip():
            continue
        try:
            # The API's JSON rules: a deep line or NUL text is a line error, not a crash.
            record = json_loads_checked(raw)
            one = services.parse_record(record, default_region=job.region)
            services.region_check(region=one.region, actor=actor)
            parsed.append((line_no, record, one))
        except ParseError:
            failed += _line_error(job, line_no, "malformed_json", "The line is not valid JSON.")
        except DomainError as exc:
            failed += _error_of(job, line_no, exc)
    return parsed, failed


def _error_of(job: ImportJob, line_no: int, exc: DomainError) -> int:
    reason = "; ".join(f"{f}: {', '.join(map(str, m))}" for f, m in exc.fields.items())
    return _line_error(job, line_no, exc.code, (reason or exc.message)[:300])


def _line_error(job: ImportJob, line: int, code: str, message: str) -> int:
    _, created = ImportLineError.objects.get_or_create(
        job=job, line=line, defaults={"code": code, "message": message}
    )
    return int(created)


def import_jobs_resume_stalled() -> int:
    """Re-enqueue running jobs whose lease expired (their worker died) and stuck pending ones."""
    now = timezone.now()
    stalled = list(
        ImportJob.objects.filter(
            status=ImportJob.Status.RUNNING, lease_expires_at__lt=now
        ).values_list("pk", flat=True)
    )
    stale_pending = list(
        ImportJob.objects.filter(
            status=ImportJob.Status.PENDING,
            created_at__lt=now - timezone.timedelta(seconds=LEASE_SECONDS),
        ).values_list("pk", flat=True)
    )
    for job_id in stalled + stale_pending:
        _import_send(job_id)
    return len(stalled) + len(stale_pending)
