"""Import throughput (records/s) of the NDJSON bulk import, as a ratio to a raw baseline that
inserts the same records' rows without encryption, matching or audit.

Usage: uv run python bench/bench_import.py [--records 3000] [--postgres]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time

from common import POSTGRES_URL, machine, setup_django, write_section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    teardown = setup_django(POSTGRES_URL if args.postgres else None)
    try:
        run(args.records, "PostgreSQL" if args.postgres else "SQLite (embedded)")
    finally:
        teardown()


def _records(n: int, offset: int) -> list[dict]:
    return [
        {
            "region": "EU",
            "identifiers": [{"kind": "email", "value": f"imp{offset + i}@example.com"}],
            "attributes": {"name": f"Person {offset + i}", "city": "Lyon"},
            "events": [
                {"name": "signup", "payload": {"n": i}, "occurred_at": "2026-01-01T00:00:00Z"}
            ],
        }
        for i in range(n)
    ]


def run(n: int, vendor: str) -> None:
    import uuid

    from django.db import connection, models, transaction

    from audit.actors import Actor
    from profiles.imports import import_job_create, import_job_run

    class RawRow(models.Model):
        id = models.UUIDField(primary_key=True, default=uuid.uuid4)
        kind = models.CharField(max_length=16)
        value = models.TextField()

        class Meta:
            app_label = "profiles"
            db_table = "bench_raw_row"

    with connection.schema_editor() as editor:
        editor.create_model(RawRow)

    load = os.getloadavg()[0]
    baseline_records = _records(n, 0)
    started = time.perf_counter()
    with transaction.atomic():
        for record in baseline_records:  # one row per identifier, attribute and event, in clear
            RawRow.objects.create(kind="email", value=record["identifiers"][0]["value"])
            for key, value in record["attributes"].items():
                RawRow.objects.create(kind=key, value=value)
            RawRow.objects.create(kind="event", value=json.dumps(record["events"][0]))
    baseline = n / (time.perf_counter() - started)

    body = ("\n".join(json.dumps(r) for r in _records(n, n)) + "\n").encode()
    job = import_job_create(stream=io.BytesIO(body), actor=Actor.system("bench"))
    started = time.perf_counter()
    job = import_job_run(job_id=str(job.pk))
    rate = job.imported / (time.perf_counter() - started)
    assert job.imported == n, job.failed
    # The same file again: every line now names an existing person (matched and updated).
    again = import_job_create(stream=io.BytesIO(body), actor=Actor.system("bench"))
    started = time.perf_counter()
    again = import_job_run(job_id=str(again.pk))
    update_rate = again.imported / (time.perf_counter() - started)
    assert again.imported == n, again.failed
    print(
        f"[{vendor}] import {rate:.0f} records/s (new people), {update_rate:.0f} records/s "
        f"(existing people); raw-insert baseline {baseline:.0f} records/s; "
        f"ratios {rate / baseline:.2f} / {update_rate / baseline:.2f}"
    )
    write_section(
        f"import-{vendor.split()[0].lower()}",
        f"""
## NDJSON import throughput ({vendor})

{n} records (e-mail, 2 attributes, 1 event each) through `profiles.imports.import_job_run` in one
process: validation, suppression check, deterministic + probabilistic matching, a new subject
key, AES-GCM encryption of every value, blind indexes, one audit event per subject. Each chunk of
500 lines is set-based (`profiles.services.ingest_batch`): its identities and matching signals
are looked up in one query each, the lines that certainly name a new person or certainly update
one existing person are written together (one INSERT per table, attributes upserted in place,
one audit append), and only merges, probable matches, identities of another region and repeated
people go through the one-by-one upsert. The same file imported a second time names only
existing people (every line an update). Baseline: plain inserts of the same rows in clear, one
statement per row, same run ({machine()}; load average {load:.1f} when the run started: the
machine is shared, compare figures within this table only).

| | records/s | ratio to baseline |
|---|---|---|
| raw inserts, no encryption/matching/audit | {baseline:.0f} | 1.00 |
| Custodia import, new people | {rate:.0f} | **{rate / baseline:.2f}** |
| Custodia import, existing people (updates) | {update_rate:.0f} | **{update_rate / baseline:.2f}** |
""",
    )


if __name__ == "__main__":
    main()
