"""Cost that does not grow with the data: the erasure of one subject (the whole pipeline,
in process) among 1,000,000 subjects, as a ratio to the same among 10,000. PostgreSQL only;
the bulk of the data is loaded set-based (INSERT ... SELECT FROM generate_series), the
subjects erased are created through the ingestion service. Two databases (the large one a
copy of the small one, grown), and the erasures alternate between them run after run, so a
noisy neighbour hits both sizes alike.

Usage: uv run python bench/bench_erasure_scale.py [--small 10000] [--large 1000000]
(BENCH_POSTGRES_URL chooses the server and database name)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from common import POSTGRES_URL, machine, setup_django, write_section

SUBJECTS_PER_STATEMENT = 200_000
EVENTS_PER_SUBJECT = 2
RUNS = 7


def _expr(field, n: str, subject: str) -> str:
    """The SQL value of one column for generated row `n` of a subject `subject`."""
    from django.db import models

    name = field.name
    if field.primary_key:
        return subject if field.model.__name__ == "Subject" else "gen_random_uuid()"
    if isinstance(field, models.ForeignKey):
        return subject if name == "subject" else "NULL"
    if isinstance(field, models.DateTimeField):
        return f"now() - make_interval(secs => {n})"
    if isinstance(field, models.BooleanField):
        return "false"
    if isinstance(field, models.FloatField):
        return "1.0"
    if isinstance(field, models.IntegerField):
        return "0"
    if isinstance(field, models.JSONField):
        return "'{}'"
    fixed = {"region": "'EU'", "kind": "'email'", "status": "'active'", "category": "'behavioral'"}
    if name in fixed:
        return fixed[name]
    if name.endswith(("_index", "_key")) or name == "key":
        return f"md5('{field.model.__name__}{name}' || {n} || '-' || {subject}::text)"
    return "'v1:generated'" if field.null is False else "NULL"


def _load(first: int, last: int) -> float:
    """Subjects first..last-1 with an identifier, an attribute and two events each."""
    from django.db import connection

    from profiles.models import Attribute, Event, Identifier, Subject

    started = time.perf_counter()
    subject_id = "md5('scale-subject-' || g)::uuid"
    with connection.cursor() as cursor:
        for start in range(first, last, SUBJECTS_PER_STATEMENT):
            stop = min(start + SUBJECTS_PER_STATEMENT, last)
            for model, per in (
                (Subject, 1),
                (Identifier, 1),
                (Attribute, 1),
                (Event, EVENTS_PER_SUBJECT),
            ):
                fields = list(model._meta.concrete_fields)
                columns = ", ".join(f'"{f.column}"' for f in fields)
                values = ", ".join(_expr(f, "(g * 10 + e)", subject_id) for f in fields)
                cursor.execute(
                    f'INSERT INTO "{model._meta.db_table}" ({columns}) '  # noqa: S608
                    f"SELECT {values} FROM generate_series({start}, {stop - 1}) AS g, "
                    f"generate_series(1, {per}) AS e"
                )
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _sizes() -> str:
    from django.db import connection

    from profiles.models import Event, Identifier, Subject

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        total = cursor.fetchone()[0]
    counts = ", ".join(
        f"{m.objects.count():,} {m._meta.verbose_name_plural}" for m in (Subject, Identifier, Event)
    )
    return f"{counts}; database {total}"


def _erase_one(i: int, tag: str) -> float:
    """Create one subject through the service, then time its erasure request end to end."""
    from django.db import transaction

    from audit.actors import Actor
    from dsar import engine
    from dsar.models import DataSubjectRequest, RequestStep
    from dsar.services import request_create
    from profiles.models import Subject
    from profiles.services import subject_upsert

    actor = Actor.system("bench")
    record = {
        "region": "EU",
        "identifiers": [{"kind": "email", "value": f"scale-{tag}-{i}@example.com"}],
        "attributes": {"name": "Scale Person"},
        "events": [{"name": "page_view", "payload": {"n": j}} for j in range(3)],
    }
    subject = Subject.objects.get(pk=subject_upsert(record=record, actor=actor).subject_id)
    started = time.perf_counter()
    with transaction.atomic():
        request, _ = request_create(
            kind="erasure", channel="api", actor=actor, subject=subject, verification="service"
        )
    first = RequestStep.objects.get(request=request, position=0).pk
    engine.steps_run_from(step_id=first)
    elapsed = time.perf_counter() - started
    request.refresh_from_db()
    assert request.status == DataSubjectRequest.Status.COMPLETED, request.status
    return elapsed


def _use(name: str) -> None:
    """Point the default connection at database `name` (the next query reconnects)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


def _interleaved(names: dict[str, str]) -> dict[str, float]:
    """Median of RUNS erasures per database (tag -> name) after a warm-up on each, the
    databases alternating run after run (which goes first alternating too); prints the
    statements that took longest on each."""
    from collections import Counter

    from django.db import connection

    spent: dict[str, Counter[str]] = {tag: Counter() for tag in names}
    times: dict[str, list[float]] = {tag: [] for tag in names}
    current = [""]

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent[current[0]][sql[:160]] += time.perf_counter() - started

    for tag, name in names.items():
        _use(name)
        _erase_one(-1, tag)  # warm-up
    tags = list(names)
    with connection.execute_wrapper(timed):
        for i in range(RUNS):
            for tag in tags if i % 2 == 0 else tags[::-1]:
                _use(names[tag])
                current[0] = tag
                times[tag].append(_erase_one(i, tag))
    for tag in tags:
        for sql, seconds in spent[tag].most_common(6):
            print(f"  [{tag}] {seconds / RUNS * 1000:7.1f} ms/run  {' '.join(sql.split())[:120]}")
    return {tag: statistics.median(values) for tag, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    os.environ["CUSTODIA_DSAR_APPROVAL_REQUIRED"] = ""
    teardown = setup_django(POSTGRES_URL)
    from django.db import connection

    small_name = connection.settings_dict["NAME"]
    large_name = f"{small_name}_large"
    try:
        import dsar.engine

        dsar.engine.step_send = lambda step_id: None  # no worker: the bench runs the steps
        small_load = _load(0, args.small)
        small_sizes = _sizes()
        connection.close()
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {large_name}")
            cursor.execute(f"CREATE DATABASE {large_name} TEMPLATE {small_name}")
        _use(large_name)
        large_load = _load(args.small, args.large)
        large_sizes = _sizes()
        medians = _interleaved({"s": small_name, "l": large_name})
        small, large = medians["s"], medians["l"]
    finally:
        _use(small_name)
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {large_name}")
        teardown()
    ratio = large / small
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"[PostgreSQL] erasure of one subject among {args.small:,}: {small * 1000:.1f} ms ({small_sizes})"
    )
    print(
        f"[PostgreSQL] erasure of one subject among {args.large:,}: {large * 1000:.1f} ms ({large_sizes})"
    )
    print(f"[PostgreSQL] ratio {ratio:.2f}; loaded in {small_load:.0f} s + {large_load:.0f} s")
    write_section(
        "erasure-scale",
        f"""
## Erasure cost with the data (PostgreSQL)

One erasure request (`request_create`, then its five steps run in process by the engine, as a
worker would: locate → erase → systems → notify → close), for a subject created through
`subject_upsert` (e-mail, name, 3 events), median of {RUNS} after a warm-up, among
{args.small:,} subjects and among {args.large:,} (a copy of the small database grown set-based:
`INSERT ... SELECT FROM generate_series`, an identifier, an attribute and
{EVENTS_PER_SUBJECT} events per subject, then `ANALYZE`), the two databases alternating run
after run. {machine()}; load average {load}.

| subjects | data | load | erasure of one subject | ratio |
|---|---|---|---|---|
| {args.small:,} | {small_sizes} | {small_load:.0f} s | {small * 1000:.1f} ms | 1.00 |
| {args.large:,} | {large_sizes} | {large_load:.0f} s more | {large * 1000:.1f} ms | **{ratio:.2f}** |
""",
    )


if __name__ == "__main__":
    main()
