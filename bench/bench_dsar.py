"""Data-subject request pipeline: erasure throughput on real Celery worker processes (2 workers
as a ratio to 1 worker), and the cost of an access export of a subject with many events (as a
ratio to reading the same event rows raw, still encrypted).

Usage: uv run python bench/bench_dsar.py [--subjects 2000] [--events 10000] [--postgres]
(SQLite: a private SQLite broker file; --postgres: Redis db 2 as the broker, flushed first;
BENCH_REDIS_URL and BENCH_POSTGRES_URL choose others)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import POSTGRES_URL, best_of, machine, setup_django, write_section

REDIS_BROKER = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
QUEUES = "default,dsar,consent,maintenance"
POLL_SECONDS = 0.2
STALL_SECONDS = 90  # no step done for this long: something is stuck (no beat sweeper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=2000, help="erasures per wave")
    parser.add_argument("--events", type=int, default=10_000, help="events of the exported subject")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--only", choices=["erasure", "export"], help="run one part, rewrite only its section"
    )
    args = parser.parse_args()

    run_dir = Path(tempfile.mkdtemp(prefix="custodia-bench-dsar-"))  # broker file, worker logs
    broker = REDIS_BROKER if args.postgres else f"sqla+sqlite:///{run_dir / 'broker.sqlite3'}"
    if args.postgres:
        _flush_redis()
    # Before setup_django: the settings (and so the Celery app) read these once.
    os.environ["CELERY_BROKER_URL"] = broker
    os.environ["CUSTODIA_DSAR_APPROVAL_REQUIRED"] = ""  # erasures start without an officer
    # As in production: no query log (with DEBUG every statement, an archive chunk's bytes
    # included, is kept in memory), in the bench process and the workers it starts.
    os.environ["DJANGO_DEBUG"] = "0"
    teardown = setup_django(POSTGRES_URL if args.postgres else None)
    ok = False
    try:
        vendor = "PostgreSQL" if args.postgres else "SQLite (embedded)"
        erasure = (
            run_erasures(args.subjects, broker, run_dir, vendor) if args.only != "export" else None
        )
        export = run_export(args.events, vendor) if args.only != "erasure" else None
        suffix = "postgresql" if args.postgres else "sqlite"
        if erasure:
            write_erasure(vendor, f"dsar-{suffix}", erasure)
        if export:
            write_export(vendor, f"dsar-export-{suffix}", export)
        ok = True
    finally:
        teardown()
        if args.postgres:
            _flush_redis()  # the access request's (never consumed) message
        if ok:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"worker logs kept in {run_dir}", file=sys.stderr)


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_BROKER).flushdb()


def _worker(broker: str, log_dir: Path):
    """A real `celery worker -c 1` on every queue (the test suite's worker process), with
    erasures running without an officer's approval."""
    from tests.workers import WorkerProcess

    worker = WorkerProcess(
        broker, log_dir, concurrency=1, env={"CUSTODIA_DSAR_APPROVAL_REQUIRED": ""}
    )
    return worker.start(wait=False)


# --- erasure throughput --------------------------------------------------------------------


def _subjects(n: int, batch: str) -> list:
    """n subjects through the ingestion service (`subjects_upsert_batch`, as a bulk import):
    an e-mail, a name and 5 events each."""
    from django.db import transaction

    from audit.actors import Actor
    from profiles.models import Subject
    from profiles.services import parse_record, subjects_upsert_batch, upsert_partition

    actor = Actor.system("bench")
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ids = []
    for start in range(0, n, 500):
        records = [
            parse_record(
                {
                    "region": "EU",
                    "identifiers": [{"kind": "email", "value": f"erase-{batch}-{i}@example.com"}],
                    "attributes": {"name": f"Person {batch} {i}"},
                    "events": [
                        {
                            "name": "page_view",
                            "payload": {"path": f"/p/{j}"},
                            "occurred_at": (base + dt.timedelta(minutes=j)).isoformat(),
                        }
                        for j in range(5)
                    ],
                }
            )
            for i in range(start, min(start + 500, n))
        ]
        with transaction.atomic():
            plan = upsert_partition(records)
            ids += subjects_upsert_batch(records=records, plan=plan, actor=actor)
    subjects = list(Subject.objects.filter(pk__in=ids))
    assert len(subjects) == n, f"{len(subjects)} subjects for {n} records"
    return subjects


def _erase_batch(subjects: list) -> dict:
    """Open one erasure per subject as one wave (one transaction: their first steps are sent
    when it commits, workers running), time from the first enqueue until every request is
    completed, then check what each erasure left behind."""
    from django.db import transaction

    from audit.actors import Actor
    from audit.models import AuditEvent
    from audit.services import audit_batch
    from dsar.models import DataSubjectRequest, RequestStep
    from dsar.record import timeline_batch
    from dsar.services import request_create
    from profiles.models import Subject, SubjectKey, SuppressedIdentity

    actor = Actor.system("bench")
    n = len(subjects)
    audit_before = AuditEvent.objects.count()
    suppressed_before = SuppressedIdentity.objects.count()
    first_enqueue: list[float] = []
    ids = []
    intake_started = time.perf_counter()
    with transaction.atomic(), audit_batch(), timeline_batch():
        # Registered before request_create's own on_commit: runs just before the first enqueue.
        transaction.on_commit(lambda: first_enqueue.append(time.perf_counter()))
        for subject in subjects:
            request, _ = request_create(
                kind="erasure",
                channel="api",
                actor=actor,
                subject=subject,
                verification="service",
            )
            assert request.status == DataSubjectRequest.Status.IN_PROGRESS, request.status
            ids.append(request.pk)
        intake = time.perf_counter() - intake_started
    sent = time.perf_counter() - first_enqueue[0]

    requests = DataSubjectRequest.objects.filter(pk__in=ids)
    steps = RequestStep.objects.filter(request_id__in=ids)
    done, last_steps, progress_at = 0, -1, time.monotonic()
    while done < n:
        done = requests.filter(status=DataSubjectRequest.Status.COMPLETED).count()
        if done == n:
            break
        # Progress is counted in steps: messages are served in order, so every request's
        # locate runs before the first erase, and no request completes until near the end.
        steps_now = steps.filter(status=RequestStep.Status.DONE).count()
        if steps_now != last_steps:
            last_steps, progress_at = steps_now, time.monotonic()
        elif time.monotonic() - progress_at > STALL_SECONDS:
            stuck = steps.exclude(status=RequestStep.Status.DONE).values_list(
                "name", "status", "attempts", "error"
            )[:10]
            other = requests.exclude(status=DataSubjectRequest.Status.COMPLETED)
            raise RuntimeError(
                f"{done}/{n} completed, no step done for {STALL_SECONDS}s; request states "
                f"{sorted(set(other.values_list('status', flat=True)))}; steps {list(stuck)}"
            )
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - first_enqueue[0]

    subject_ids = [s.pk for s in subjects]
    steps_done = RequestStep.objects.filter(
        request_id__in=ids, status=RequestStep.Status.DONE
    ).count()
    checks = {
        "steps_done": steps_done,
        "erase_audits": AuditEvent.objects.filter(
            action="profiles.subject.erase", subject_id__in=subject_ids
        ).count(),
        "suppressed": SuppressedIdentity.objects.count() - suppressed_before,
        "keys_left": SubjectKey.objects.filter(subject_id__in=subject_ids).count(),
        "erased": Subject.objects.filter(pk__in=subject_ids, status=Subject.Status.ERASED).count(),
        "audit_rows": AuditEvent.objects.count() - audit_before,
    }
    assert checks["erase_audits"] == n, checks
    assert checks["suppressed"] == n, checks
    assert checks["keys_left"] == 0, checks
    assert checks["erased"] == n, checks
    return {"rate": n / elapsed, "seconds": elapsed, "intake": intake, "sent": sent, **checks}


def run_erasures(n: int, broker: str, run_dir: Path, vendor: str) -> dict:
    from dsar.engine import PLANS

    plan = PLANS["erasure"]
    batch1 = _subjects(n, "a")
    batch2 = _subjects(n, "b")
    workers: list = []
    try:
        workers.append(_worker(broker, run_dir))
        workers[0].wait_ready()
        one = _erase_batch(batch1)
        workers.append(_worker(broker, run_dir))
        workers[1].wait_ready()
        two = _erase_batch(batch2)
    finally:
        for worker in workers:
            worker.stop()
    ratio = two["rate"] / one["rate"]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    for label, r in (("1 worker ", one), ("2 workers", two)):
        print(
            f"[{vendor}] erasure, {label}: {r['rate']:.1f} subjects/s ({n} in {r['seconds']:.1f} s;"
            f" requests opened in {r['intake']:.1f} s before, sent in {r['sent']:.1f} s)"
        )
    print(
        f"[{vendor}] erasure throughput ratio 2 workers / 1 worker: {ratio:.2f}; per request "
        f"{len(plan)} steps ({' -> '.join(plan)}), claimed and run in batches; every erasure "
        f"audited ({one['audit_rows'] / n:.0f} audit rows/request), identity suppressed, data key "
        f"shredded (checked: {one['erase_audits'] + two['erase_audits']} erase audits, "
        f"{one['suppressed'] + two['suppressed']} suppressed identities, "
        f"{one['keys_left'] + two['keys_left']} keys left, "
        f"{one['steps_done'] + two['steps_done']} steps done); load average {load}"
    )
    return {"n": n, "plan": plan, "one": one, "two": two, "ratio": ratio, "load": load}


# --- access export -------------------------------------------------------------------------


def run_export(events: int, vendor: str) -> dict:
    """Export of one subject with `events` events, against reading the same rows raw."""
    from audit.actors import Actor
    from dsar.services import request_create
    from profiles.models import Event, Subject
    from profiles.services import subject_upsert

    actor = Actor.system("bench")
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    chunk = 2000  # parse_record has no limit; batches keep each transaction moderate
    subject_id = None
    for start in range(0, events, chunk):
        record = {
            "region": "EU",
            "identifiers": [{"kind": "email", "value": "export@example.com"}],
            "attributes": {"name": "Export Person", "city": "Lyon"},
            "events": [
                {
                    "name": f"event_{i % 20}",
                    "payload": {"n": i, "path": f"/shop/item/{i}", "amount": i % 97},
                    "occurred_at": (base + dt.timedelta(seconds=i)).isoformat(),
                }
                for i in range(start, min(start + chunk, events))
            ],
        }
        result = subject_upsert(record=record, actor=actor)
        assert subject_id in (None, result.subject_id), "the same e-mail must match"
        subject_id = result.subject_id
    subject = Subject.objects.get(pk=subject_id)
    assert Event.objects.filter(subject=subject).count() == events
    # No worker runs now: the on_commit enqueue leaves a message nobody consumes.
    request, _ = request_create(
        kind="access", channel="api", actor=actor, subject=subject, verification="service"
    )

    def add_events(first: int, last: int) -> None:
        for start in range(first, last, chunk):
            record = {
                "region": "EU",
                "identifiers": [{"kind": "email", "value": "export@example.com"}],
                "events": [
                    {
                        "name": f"event_{i % 20}",
                        "payload": {"n": i, "path": f"/shop/item/{i}", "amount": i % 97},
                        "occurred_at": (base + dt.timedelta(seconds=i)).isoformat(),
                    }
                    for i in range(start, min(start + chunk, last))
                ],
            }
            subject_upsert(record=record, actor=actor)

    def raw() -> None:
        rows = list(
            Event.objects.filter(subject=subject).values_list(
                "id", "name", "payload", "occurred_at"
            )
        )
        assert len(rows) == events

    sizes: list[int] = []

    def export() -> None:
        sizes.append(_export(request, events))

    # Interleaved, so a noisy neighbour weighs on both alike.
    times: dict[str, list[float]] = {"raw": [], "export": []}
    for _ in range(5):
        for label, fn in (("raw", raw), ("export", export)):
            times[label].append(best_of(fn, repeat=1))
    baseline, exported = statistics.median(times["raw"]), statistics.median(times["export"])
    ratio = exported / baseline
    peaks = {events: _export_peak(request, events)}
    half, big = events * 5, events * 10
    started = time.perf_counter()
    add_events(events, half)
    peaks[half] = _export_peak(request, half)
    add_events(half, big)
    loaded = time.perf_counter() - started
    peaks[big] = _export_peak(request, big)
    growth = peaks[big] - peaks[half]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"[{vendor}] export peak Python memory (tracemalloc; collect, build, encrypt and store "
        "the chunks, then read them all back decrypted as a download does): "
        + ", ".join(f"{n} events {p / 1e6:.1f} MB" for n, p in peaks.items())
        + f"; growth from {half} to {big} events {growth / 1e6:+.2f} MB "
        f"({big - events} events added in {loaded:.0f} s)"
    )
    print(
        f"[{vendor}] access export of {events} events: {exported:.2f} s "
        f"(archive {sizes[-1] / 1e6:.2f} MB zip); raw read of the rows {baseline:.3f} s; "
        f"ratio {ratio:.1f}; load average {load}"
    )
    return {
        "events": events,
        "seconds": exported,
        "baseline": baseline,
        "ratio": ratio,
        "bytes": sizes[-1],
        "peaks": peaks,
        "growth": growth,
        "load": load,
    }


def _export(request, events: int, *, read_back: bool = False) -> int:
    """The pipeline's package step: collect, write the ZIP into encrypted chunks in the
    database (`archive_store`), in a transaction rolled back after (the request keeps no
    archive); with `read_back`, also read every chunk decrypted, as a download does.
    Returns the archive's size."""
    from django.db import transaction

    from dsar import archive

    with transaction.atomic():
        stored, written = archive.archive_store(request=request, data=archive.collect(request))
        assert written == events, (written, events)
        if read_back:
            assert sum(len(chunk) for chunk in archive.archive_reader(stored)) == stored.size
        transaction.set_rollback(True)
    return stored.size


def _export_peak(request, events: int) -> int:
    """Peak Python memory (tracemalloc) of an export stored and read back (`_export`)."""
    import tracemalloc

    tracemalloc.start()
    try:
        _export(request, events, read_back=True)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- docs ------------------------------------------------------------------------------------


def write_erasure(vendor: str, section: str, erasure: dict) -> None:
    n, one, two = erasure["n"], erasure["one"], erasure["two"]
    steps = len(erasure["plan"])
    for r, workers in ((one, 1), (two, 2)):
        r["step"] = r["seconds"] * workers / (n * steps)  # seconds per step per worker
    if section.endswith("sqlite"):
        broker = "a SQLite file through kombu's SQLAlchemy transport"
        note = "SQLite takes one writer at a time, which is what a second worker contends for. "
    else:
        broker = "Redis"
        note = (
            f"The worker processes, PostgreSQL and the bench process share this machine's "
            f"{os.cpu_count()} cores (and other sessions' work during this run), which bounds "
            "what a second worker can add. "
        )
    write_section(
        section,
        f"""
## DSAR pipeline ({vendor})

**Erasure throughput.** A wave of {n} erasure requests (`request_create`, service-verified,
no approval), opened in one transaction, one per subject (e-mail, name, 5 events each, created
through `subjects_upsert_batch`), while real `celery -A settings worker -c 1` processes run on
every queue, with {broker} as the broker. Each request runs {len(erasure["plan"])} leased steps
({" → ".join(erasure["plan"])}; no connected systems, so `systems` finishes at once). A worker
claims up to `CUSTODIA_STEP_BATCH` (100) runnable steps of one name in one statement (each
step gets its lease and its attempt number, its fencing token), runs them together in one
transaction (`subjects_erase` for the erase step: a fixed number of statements per batch; one
audit append and one timeline insert per batch), settles the steps still held by their attempt,
then claims the next steps of those requests. Each erasure suppresses the identity's blind
index, destroys the subject's data key (crypto-shredding), deletes its rows and appends
{one["audit_rows"] / n:.0f} rows to the audit hash chain. Timed from the first message sent
(when the wave's transaction commits) until all {n} are `completed` (polled every 0.2 s;
opening the wave took {one["intake"]:.1f} s and {two["intake"]:.1f} s before that). Baseline:
1 worker process, same run, a fresh wave of subjects for each ({machine()}; load average
{erasure["load"]} (1/5/15 min) when the erasures ended; `DJANGO_DEBUG=0`). {note}Appends
to the audit chain are serialized on every database.

| | subjects/s | seconds for {n} | s per step per worker | ratio to 1 worker |
|---|---|---|---|---|
| 1 worker process | {one["rate"]:.1f} | {one["seconds"]:.1f} | {one["step"]:.4f} | 1.00 |
| 2 worker processes | {two["rate"]:.1f} | {two["seconds"]:.1f} | {two["step"]:.4f} | **{erasure["ratio"]:.2f}** |

The access export's figures: the next section.
""",
    )


def write_export(vendor: str, section: str, export: dict) -> None:
    from dsar.archive import CHUNK_BYTES, ZIP_LEVEL

    archive_chunk_kib = CHUNK_BYTES // 1024
    peaks = export["peaks"]
    _, half, big = sorted(peaks)
    write_section(
        section,
        f"""
## DSAR access export ({vendor})

One subject with {export["events"]} events: the package step as the
pipeline runs it: `archive.collect` (decrypts identifiers, attributes; consent and access
history; processing activities; the events as a stream) then `archive.archive_store`, which
writes the ZIP ({export["bytes"] / 1e6:.2f} MB, deflate level {ZIP_LEVEL}: README, data.json and one CSV per
kind of record; the events read once in chunks of 2,000 rows as tuples, each row's id and time
as the text they are used as, formatted by the database (`core.db.functions`: the id for the
payload's associated data, the time in ISO 8601) rather than parsed into Python objects and
formatted again, decrypted, written 1,000 at a time into data.json and, through a spooled
temporary file, into events.csv) straight into
AES-GCM chunks of {archive_chunk_kib} KiB stored in the database (each chunk's index and
whether it is the last in its associated data), in a transaction rolled back after each run.
Baseline: reading the same {export["events"]} event rows raw (`values_list` of id, name,
payload and time through the ORM, ciphertext, no decryption), {machine()}. Five runs of each,
interleaved, each after a full garbage collection, medians (load average {export["load"]}
after; target ≤ 3: {"met" if export["ratio"] <= 3 else "not met"}). Runs before 2026-11-29 did
not collect first, and a raw read that paid for a collection of the whole heap took up to four
times as long: their ratios (1.2 and 1.3) were not the export's. Until 2026-11-29 the stream
read the time as a Python datetime (parsed from the database's text) only to write it back
as text, and deflated at level 6: 3.3 (SQLite) and 3.5 (PostgreSQL).

| | seconds | ratio to raw read |
|---|---|---|
| raw read of the event rows | {export["baseline"]:.3f} | 1.00 |
| collect + build + encrypt + store | {export["seconds"]:.3f} | **{export["ratio"]:.1f}** |

Peak Python memory (tracemalloc) of the same export, then every chunk read back decrypted as
the download streams it (`StreamingHttpResponse`, one chunk per query):
{", ".join(f"{p / 1e6:.1f} MB for {n} events" for n, p in sorted(peaks.items()))}.
From {half} to {big} events the peak moves by **{export["growth"] / 1e6:+.2f} MB**: what is
held is a few chunks and the current 2,000 rows, not the archive (the first figure is lower
because its whole archive fits in one chunk).
""",
    )


if __name__ == "__main__":
    main()
