"""Cost that does not grow with the data (`make bench-scale`, PostgreSQL, not in CI).

Loads a large consent ledger set-based (generate_series, one INSERT ... SELECT per table) into
a dedicated database, a small one of the same shape into another, and compares what a request
costs on each. Each section is one function taking the `Scale` it runs on and writing its own
heading in docs/benchmarks.md; add a section (e.g. erasure) as another `section_*` function and
call it from `main`.

Usage: uv run python bench/bench_scale.py [--records 10000000] [--subjects 1000000]
       [--small-records 10000] [--rounds 5] [--requests 2000] [--skip-load]
(PostgreSQL at postgres://postgres@127.0.0.1:5432; databases bench_scale and bench_scale_small
are dropped and recreated unless --skip-load)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from common import ROOT, machine, write_section

SERVER = "postgres://postgres@127.0.0.1:5432"
PURPOSES = ("analytics", "marketing_email", "sale_sharing", "personalisation")


@dataclass
class Scale:
    """One loaded database: its name, its size and what loading it took."""

    name: str
    records: int
    subjects: int
    load_seconds: float = 0.0
    sizes: dict | None = None

    @property
    def url(self) -> str:
        return f"{SERVER}/{self.name}"


def psql(sql: str, database: str = "postgres") -> str:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAt", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def child_env(scale: Scale) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": scale.url,
        "DJANGO_SETTINGS_MODULE": "settings.base",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "CUSTODIA_VAR_DIR": os.environ.get("CUSTODIA_VAR_DIR", f"/tmp/custodia-{scale.name}"),
    }


def django_child(scale: Scale, code: str) -> str:
    """Run `code` in a fresh Django process on `scale`'s database; its stdout."""
    script = "import django\ndjango.setup()\n" + code
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=child_env(scale),
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-4000:])
    return out.stdout


PREPARE = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
from consent.models import Purpose
from consent.regimes import seed_regimes
seed_regimes()
for slug in SLUGS:
    Purpose.objects.get_or_create(slug=slug, defaults={"name": slug, "description": "bench"})
print(json.dumps({p.slug: p.pk for p in Purpose.objects.filter(slug__in=SLUGS)}))
"""


def load(scale: Scale) -> None:
    """A fresh database, migrated, then subjects, ledger records (spread over two years) and
    the projection inserted set-based: each record chained to nothing real (hashes are filler
    of the right length), which the requests measured here never read."""
    psql(f"DROP DATABASE IF EXISTS {scale.name}")
    psql(f"CREATE DATABASE {scale.name}")
    code = "import json\nSLUGS = " + repr(PURPOSES) + "\n" + PREPARE
    purpose_ids = json.loads(django_child(scale, code).strip().splitlines()[-1])
    ids = "ARRAY[" + ",".join(str(purpose_ids[s]) for s in PURPOSES) + "]"
    n_purposes, started = len(PURPOSES), time.perf_counter()
    subject_id = "md5('subject' || {i})::uuid"
    psql(
        # Only integers from the command line are formatted into these statements.
        "INSERT INTO profiles_subject (id, region, jurisdiction, status, created_at, updated_at) "  # noqa: S608
        f"SELECT {subject_id.format(i='g')}, 'EU', '', 'active', now(), now() "
        f"FROM generate_series(0, {scale.subjects - 1}) g",
        scale.name,
    )
    # Record g belongs to subject g % S and purpose (g / S) % P; later records are newer.
    psql(
        "INSERT INTO consent_consentrecord (id, subject_id, visitor_id, region, jurisdiction, "  # noqa: S608
        "purpose_id, state, channel, recorded_at, user_agent, ip_truncated, gpc, tc_string, "
        "recorded_by, prev_hash, hash) "
        f"SELECT md5('record' || g)::uuid, {subject_id.format(i=f'(g % {scale.subjects})')}, "
        f"'', 'EU', 'GDPR', ({ids})[1 + (g / {scale.subjects}) % {n_purposes}], "
        "CASE WHEN g % 3 = 0 THEN 'denied' ELSE 'granted' END, 'api', "
        f"now() - interval '730 days' + g * (interval '730 days' / {scale.records}), "
        "'bench', '', false, '', 'bench', repeat('0', 64), md5(g::text) || md5(g::text) "
        f"FROM generate_series(0, {scale.records - 1}) g",
        scale.name,
    )
    # The projection: the latest record of each (subject, purpose).
    psql(
        "INSERT INTO consent_currentconsent (subject_id, visitor_id, purpose_id, state, "
        "record_id, gpc, recorded_at, expires_at, needs_reprompt, region) "
        "SELECT DISTINCT ON (subject_id, purpose_id) subject_id, '', purpose_id, state, id, "
        "gpc, recorded_at, NULL, false, region FROM consent_consentrecord "
        "ORDER BY subject_id, purpose_id, recorded_at DESC",
        scale.name,
    )
    psql("VACUUM ANALYZE", scale.name)
    scale.load_seconds = time.perf_counter() - started
    scale.sizes = {
        table: psql(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))", scale.name)
        for table in ("profiles_subject", "consent_consentrecord", "consent_currentconsent")
    }
    scale.sizes["database"] = psql(
        f"SELECT pg_size_pretty(pg_database_size('{scale.name}'))", scale.name
    )


MEASURE = """
import random, time
from django.test import Client
from access.models import RegionScope
from access.services import api_token_create, sync_roles
from audit.actors import Actor
from django.contrib.auth.models import Group, User
sync_roles()
user, _ = User.objects.get_or_create(username="bench-scale")
user.groups.add(Group.objects.get(name="Service account"))
RegionScope.objects.get_or_create(user=user, defaults={"all_regions": True})
_, raw = api_token_create(user=user, name="scale", scopes=["consent:read"], all_regions=True,
                          actor=Actor.system("bench"))
api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_HOST="127.0.0.1")
rng = random.Random(ROUND)
ids = [hashlib.md5(f"subject{rng.randrange(SUBJECTS)}".encode()).hexdigest() for _ in range(N)]
def ask(i):
    subject = str(uuid.UUID(ids[i % len(ids)]))
    response = api.get("/api/v1/consent/decision/", {"subject": subject, "purpose": "analytics"})
    assert response.status_code == 200, response.content
for i in range(200):
    ask(i)  # warm: principal, reference data, connection
started = time.perf_counter()
for i in range(N):
    ask(i)
print("RATE", N / (time.perf_counter() - started))
"""


def decision_rate(scale: Scale, requests: int, round_no: int) -> float:
    """Decisions/s in process (Django test client, API token) for random subjects."""
    code = (
        f"import hashlib, uuid\nROUND, SUBJECTS, N = {round_no}, {scale.subjects}, {requests}\n"
        + MEASURE
    )
    out = django_child(scale, code)
    return float(out.split("RATE", 1)[1].split()[0])


def section_decisions(large: Scale, small: Scale, rounds: int, requests: int) -> None:
    """Decision req/s on the large ledger as a ratio to the small one, rounds interleaved
    (which goes first alternates); the median of the per-round ratios."""
    pairs = []
    for i in range(rounds):
        order = (large, small) if i % 2 else (small, large)
        rates = {s.name: decision_rate(s, requests, i) for s in order}
        pairs.append((rates[large.name], rates[small.name]))
        print(f"round {i}: large {pairs[-1][0]:.0f}/s, small {pairs[-1][1]:.0f}/s")
    ratios = [big / little for big, little in pairs]
    ratio = statistics.median(ratios)
    print(f"decisions: large/small {ratio:.2f}")
    write_section(
        "scale-decisions",
        f"""
## Decisions on a large ledger (PostgreSQL, `make bench-scale`)

`GET /api/v1/consent/decision/` through Django's test client in one process (API token,
principal and reference data cached), for random subjects, {requests} requests per round,
{rounds} rounds alternating the two databases ({machine()}).

| ledger | subjects | decisions/s (median) | ratio | target |
|---|---|---|---|---|
| {small.records:,} records | {small.subjects:,} | {statistics.median(p[1] for p in pairs):.0f} | 1.00 | |
| {large.records:,} records | {large.subjects:,} | {statistics.median(p[0] for p in pairs):.0f} | **{ratio:.2f}** | >= 0.9 |

Per-round ratios: {", ".join(f"{r:.2f}" for r in ratios)}. The decision reads one subject row
and one projection row by their unique indexes, so its cost follows the index depth, not the
ledger's length.
""",
    )


def section_load(large: Scale, small: Scale) -> None:
    rows = "\n".join(
        f"| {s.name} | {s.records:,} | {s.subjects:,} | {s.load_seconds:.0f} s | "
        + " | ".join(s.sizes[t] for t in ("consent_consentrecord", "consent_currentconsent"))
        + f" | {s.sizes['profiles_subject']} | {s.sizes['database']} |"
        for s in (small, large)
        if s.sizes
    )
    write_section(
        "scale-load",
        f"""
## Large data set: load time and sizes (PostgreSQL, `make bench-scale`)

Loaded set-based (one `INSERT ... SELECT generate_series` per table, indexes in place, then
`VACUUM ANALYZE`) after migrating an empty database ({machine()}). Records spread over two
years, {len(PURPOSES)} purposes; the projection holds the latest record per subject and purpose.

| database | ledger records | subjects | load time | ledger size | projection size | subjects size | database size |
|---|---|---|---|---|---|---|---|
{rows}
""",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--small-records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded databases")
    args = parser.parse_args()
    per_subject = max(1, args.records // args.subjects)
    large = Scale("bench_scale", args.records, args.subjects)
    small = Scale(
        "bench_scale_small", args.small_records, max(1, args.small_records // per_subject)
    )
    if not args.skip_load:
        for scale in (small, large):
            load(scale)
            print(f"loaded {scale.name}: {scale.load_seconds:.0f} s, {scale.sizes}")
        section_load(large, small)
    section_decisions(large, small, args.rounds, args.requests)


if __name__ == "__main__":
    main()
