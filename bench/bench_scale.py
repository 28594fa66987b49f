"""Cost that does not grow with the data (`make bench-scale`, PostgreSQL, not in CI).

Loads a large consent ledger set-based into a dedicated database (bench_scale) and a small one
of the same shape into another (bench_scale_small), then compares what a request costs on each.
Loading: the tables' indexes and constraints (and the foreign keys pointing at them) are taken
off, subjects, their data keys, ledger records and the projection are inserted with one
`INSERT ... SELECT FROM generate_series` each, then the indexes and constraints are rebuilt
(sorted builds, foreign keys validated) and the tables vacuumed and analysed. Each section is
one function writing its own heading in docs/benchmarks.md (`section_*`, called from `main`).

Decisions are measured as bench/bench_consent_api.py measures them: the real
`GET /api/v1/consent/decision/` served by gunicorn (2 sync workers, persistent connections),
driven by wrk over loopback with an API token, here for a random subject of the database on
each request. One server per database, both up; rounds alternate which goes first.

Usage: uv run python bench/bench_scale.py [--records 10000000] [--subjects 1000000]
       [--small-records 10000] [--rounds 7] [--seconds 10] [--skip-load] [--drop]
(PostgreSQL at postgres://postgres@127.0.0.1:5432; databases bench_scale and bench_scale_small
are dropped and recreated unless --skip-load, dropped at the end with --drop; CACHE_URL, when
set, is the servers' shared cache as in a deployment, each database under its own key prefix)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from bench_consent_api import ensure_wrk, free_port, gunicorn, wrk
from common import ROOT, machine, write_section

SERVER = "postgres://postgres@127.0.0.1:5432"
PURPOSES = ("analytics", "marketing_email", "sale_sharing", "personalisation")
TABLES = (
    "profiles_subject",
    "profiles_subjectkey",
    "consent_consentrecord",
    "consent_currentconsent",
)


@dataclass
class Scale:
    """One loaded database: its name, its size and what loading it took."""

    name: str
    records: int
    subjects: int
    load_seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, str] = field(default_factory=dict)
    token: str = ""

    @property
    def url(self) -> str:
        return f"{SERVER}/{self.name}"

    @property
    def var_dir(self) -> Path:
        path = Path(os.environ.get("CUSTODIA_VAR_DIR", "/tmp")) / f"custodia-{self.name}"
        path.mkdir(parents=True, exist_ok=True)
        return path


def psql(sql: str, database: str = "postgres") -> str:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAt", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def child_env(scale: Scale) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": scale.url,
        "DJANGO_SETTINGS_MODULE": "bench.benchsettings",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "CUSTODIA_VAR_DIR": str(scale.var_dir),
        "BENCH_CACHE_PREFIX": scale.name,
        # Persistent connections, as a deployment sets them (docs/operations.md).
        "DB_CONN_MAX_AGE": "60",
    }
    return env


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
import json
from django.core.management import call_command
call_command("migrate", verbosity=0)
from consent.models import Purpose
from consent.regimes import seed_regimes
seed_regimes()
for slug in SLUGS:
    Purpose.objects.get_or_create(slug=slug, defaults={"name": slug, "description": "bench"})
print(json.dumps({p.slug: p.pk for p in Purpose.objects.filter(slug__in=SLUGS)}))
"""

MAKE_TOKEN = """
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
print("TOKEN", raw)
"""  # noqa: S105 (code, not a secret)


def detach(conn: psycopg.Connection, tables: tuple[str, ...]) -> list[str]:
    """Take off the indexes and constraints of `tables` and the foreign keys pointing at them;
    return the statements that put them back (keys and unique constraints, indexes, then the
    foreign keys, which PostgreSQL validates against the loaded rows)."""
    oids = "ARRAY[" + ",".join(f"'{t}'::regclass" for t in tables) + "]"
    constraints = conn.execute(
        "SELECT conrelid::regclass::text, quote_ident(conname), pg_get_constraintdef(oid), contype "  # noqa: S608
        f"FROM pg_constraint WHERE (contype IN ('p', 'u') AND conrelid = ANY({oids})) "
        f"OR (contype = 'f' AND (conrelid = ANY({oids}) OR confrelid = ANY({oids})))"
    ).fetchall()
    indexes = conn.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "  # noqa: S608
        f"WHERE indrelid = ANY({oids}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u'))"
    ).fetchall()
    foreign = [c for c in constraints if c[3] == "f"]
    keys = [c for c in constraints if c[3] != "f"]
    for table, name, _, _ in foreign + keys:
        conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    return (
        [f"ALTER TABLE {t} ADD CONSTRAINT {n} {d}" for t, n, d, _ in keys]
        + [definition for _, definition in indexes]
        + [f"ALTER TABLE {t} ADD CONSTRAINT {n} {d}" for t, n, d, _ in foreign]
    )


def insert(conn: psycopg.Connection, table: str, columns: dict[str, str], rows: str) -> None:
    names, values = ", ".join(columns), ", ".join(columns.values())
    conn.execute(f"INSERT INTO {table} ({names}) SELECT {values} FROM {rows}")  # noqa: S608


def fill(conn: psycopg.Connection, scale: Scale, purpose_ids: dict[str, int]) -> None:
    """Subjects, one data key each, the ledger and its projection. Record g belongs to subject
    g % S and purpose (g / S) % P; later records are newer and chained to the subject's
    previous one (g - S); hashes are filler of the right length. The pair of record g comes
    back every P * S records, so the last P * S records are the projection."""
    records, subjects, n = scale.records, scale.subjects, len(PURPOSES)
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=730)).isoformat()
    step = f"(interval '730 days' / {records})"
    ids = "ARRAY[" + ",".join(str(purpose_ids[s]) for s in PURPOSES) + "]"
    subject = f"md5('subject' || (g % {subjects}))::uuid"
    record = {
        "id": "md5('record' || g)::uuid",
        "subject_id": subject,
        "visitor_id": "''",
        "region": "'EU'",
        "jurisdiction": "'GDPR'",
        "purpose_id": f"({ids})[1 + (g / {subjects}) % {n}]",
        "state": "CASE WHEN g % 3 = 0 THEN 'denied' ELSE 'granted' END",
        "channel": "'api'",
        "recorded_at": f"timestamptz '{start}' + g * {step}",
        "user_agent": "'bench'",
        "ip_truncated": "''",
        "gpc": "false",
        "tc_string": "''",
        "gpp_string": "''",
        "language": "'en'",
        "recorded_by": "'bench'",
        "prev_hash": f"CASE WHEN g < {subjects} THEN repeat('0', 64) "
        f"ELSE md5((g - {subjects})::text) || md5((g - {subjects})::text) END",
        "hash": "md5(g::text) || md5(g::text)",
    }
    timed = scale.phases
    began = time.perf_counter()
    insert(
        conn,
        "profiles_subject",
        {
            "id": "md5('subject' || g)::uuid",
            "region": "'EU'",
            "jurisdiction": "''",
            "status": "'active'",
            "created_at": f"timestamptz '{start}'",
            "updated_at": f"timestamptz '{start}'",
        },
        f"generate_series(0, {subjects - 1}) g",
    )
    insert(
        conn,
        "profiles_subjectkey",
        {
            "subject_id": "md5('subject' || g)::uuid",
            "key_id": "md5('key' || g)::uuid",
            "wrapped_key": "decode(md5('wrap' || g) || md5('key' || g) || md5(g::text), 'hex')",
            "master_version": "1",
            "created_at": f"timestamptz '{start}'",
        },
        f"generate_series(0, {subjects - 1}) g",
    )
    timed["subjects and keys"] = time.perf_counter() - began
    began = time.perf_counter()
    insert(conn, "consent_consentrecord", record, f"generate_series(0, {records - 1}) g")
    timed["ledger"] = time.perf_counter() - began
    began = time.perf_counter()
    projection = {
        "subject_id": subject,
        "visitor_id": "''",
        "purpose_id": record["purpose_id"],
        "state": record["state"],
        "record_id": record["id"],
        "gpc": "false",
        "recorded_at": record["recorded_at"],
        "needs_reprompt": "false",
        "region": "'EU'",
    }
    first = max(0, records - n * subjects)
    insert(conn, "consent_currentconsent", projection, f"generate_series({first}, {records - 1}) g")
    timed["projection"] = time.perf_counter() - began


def load(scale: Scale) -> None:
    """A fresh database, migrated, then filled set-based with its indexes taken off."""
    psql(f"DROP DATABASE IF EXISTS {scale.name}")
    psql(f"CREATE DATABASE {scale.name}")
    code = "SLUGS = " + repr(PURPOSES) + "\n" + PREPARE
    purpose_ids = json.loads(django_child(scale, code).strip().splitlines()[-1])
    started = time.perf_counter()
    with psycopg.connect(scale.url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        restore = detach(conn, TABLES)
        fill(conn, scale, purpose_ids)
        began = time.perf_counter()
        for statement in restore:
            conn.execute(statement)
        scale.phases["indexes and keys"] = time.perf_counter() - began
        began = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        scale.phases["vacuum analyze"] = time.perf_counter() - began
    scale.load_seconds = time.perf_counter() - started
    measure_sizes(scale)


def measure_sizes(scale: Scale) -> None:
    for table in TABLES:
        scale.sizes[table] = psql(
            f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))", scale.name
        )
    scale.sizes["database"] = psql(
        f"SELECT pg_size_pretty(pg_database_size('{scale.name}'))", scale.name
    )


def prepare_requests(scale: Scale) -> Path:
    """An API token on `scale` and the wrk script asking for a random subject of it."""
    out = django_child(scale, MAKE_TOKEN)
    scale.token = out.split("TOKEN", 1)[1].split()[0]
    ids = scale.var_dir / "subjects.txt"
    with psycopg.connect(scale.url) as conn, ids.open("w") as sink:
        for (subject,) in conn.execute("SELECT id FROM profiles_subject"):
            sink.write(f"{subject}\n")
    lua = scale.var_dir / "decisions.lua"
    lua.write_text(
        f"""
local ids = {{}}
for line in io.lines("{ids}") do ids[#ids + 1] = line end
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  math.randomseed(os.time() * 100 + (seed or 0))
end
request = function()
  local subject = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/consent/decision/?subject=" .. subject .. "&purpose=analytics")
end
"""
    )
    return lua


def serve(scale: Scale) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = gunicorn(child_env(scale), port)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/bench/minimal/", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return server, base


def statement_micros(scale: Scale, purpose: str, n: int = 3000) -> float:
    """The decision's one statement (subject and projection) for `n` random subjects, prepared,
    straight on the database: microseconds per execution."""
    with psycopg.connect(scale.url, prepare_threshold=0) as conn:
        pk = conn.execute("SELECT id FROM consent_purpose WHERE slug = %s", [purpose]).fetchone()[0]
        subjects = [
            row[0]
            for row in conn.execute(
                "SELECT md5('subject' || (random() * %s)::int %% %s)::uuid FROM generate_series(1, %s)",
                [scale.subjects, scale.subjects, n],
            )
        ]
        sql = (
            "SELECT s.region, s.jurisdiction, c.state, c.recorded_at, c.gpc, c.record_id "
            "FROM profiles_subject s LEFT JOIN consent_currentconsent c "
            "ON c.subject_id = s.id AND c.purpose_id = %s WHERE s.id = %s"
        )
        for subject in subjects[:200]:
            conn.execute(sql, [pk, subject]).fetchone()
        started = time.perf_counter()
        for subject in subjects:
            assert conn.execute(sql, [pk, subject]).fetchone() is not None
        return (time.perf_counter() - started) / n * 1e6


def plan(scale: Scale) -> str:
    with psycopg.connect(scale.url) as conn:
        pk, subject = conn.execute(
            "SELECT purpose_id, subject_id FROM consent_currentconsent ORDER BY random() LIMIT 1"
        ).fetchone()
        rows = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT s.region, s.jurisdiction, c.state, "
            "c.recorded_at, c.gpc, c.record_id FROM profiles_subject s "
            "LEFT JOIN consent_currentconsent c ON c.subject_id = s.id AND c.purpose_id = %s "
            "WHERE s.id = %s",
            [pk, subject],
        ).fetchall()
    return "\n".join(row[0] for row in rows)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def section_decisions(large: Scale, small: Scale, rounds: int, seconds: int) -> None:
    """Decision req/s on the large database as a ratio to the small one, per round, rounds
    alternating which goes first; the median of the per-round ratios."""
    binary = ensure_wrk()
    scripts = {s.name: prepare_requests(s) for s in (small, large)}
    servers = {s.name: serve(s) for s in (small, large)}
    loads = [load_average()]
    try:

        def rate(scale: Scale, duration: int) -> float:
            _, base = servers[scale.name]
            return wrk(
                binary,
                f"{base}/",
                duration,
                [f"Authorization: Bearer {scale.token}"],
                str(scripts[scale.name]),
            )

        for scale in (small, large):
            rate(scale, 3)  # warm: workers, principal, reference data, connections
        pairs, statements = [], []
        for i in range(rounds):
            order = (large, small) if i % 2 else (small, large)
            rates = {s.name: rate(s, seconds) for s in order}
            micros = {s.name: statement_micros(s, "analytics") for s in order}
            pairs.append((rates[large.name], rates[small.name]))
            statements.append((micros[large.name], micros[small.name]))
            loads.append(load_average())
            print(
                f"round {i}: large {pairs[-1][0]:.0f}/s, small {pairs[-1][1]:.0f}/s "
                f"({pairs[-1][0] / pairs[-1][1]:.2f}); statement {statements[-1][0]:.0f} / "
                f"{statements[-1][1]:.0f} us; load {loads[-1]}"
            )
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    ratios = [big / little for big, little in pairs]
    ratio = statistics.median(ratios)
    statement_ratio = statistics.median(little / big for big, little in statements)
    large_plan = plan(large)
    print(f"decisions: large/small {ratio:.2f}\n{large_plan}")
    write_section(
        "scale-decisions",
        f"""
## Decisions on a large ledger (PostgreSQL, `make bench-scale`)

`GET /api/v1/consent/decision/?subject=…&purpose=analytics`, the real endpoint as in the
consent API benchmark: gunicorn with 2 sync workers (`DB_CONN_MAX_AGE=60`), wrk with 2 threads
and 16 connections over loopback, an API token, a **random subject of the database on every
request** (all subject ids loaded into the wrk script). One server per database, both up;
{rounds} rounds of {seconds} s per database, which goes first alternating
({machine()}; load average {loads[0]} before, {loads[-1]} after).
Statement: the decision's one SQL statement (subject row joined to its projection row) run
prepared for 3,000 random subjects straight on the database in each round, after the requests.

| ledger | subjects | projection rows | decisions/s (median) | ratio | statement (median) | statement ratio (speed) | target |
|---|---|---|---|---|---|---|---|
| {small.records:,} records | {small.subjects:,} | {min(small.records, len(PURPOSES) * small.subjects):,} | {statistics.median(p[1] for p in pairs):.0f} | 1.00 | {statistics.median(s[1] for s in statements):.0f} µs | 1.00 | |
| {large.records:,} records | {large.subjects:,} | {min(large.records, len(PURPOSES) * large.subjects):,} | {statistics.median(p[0] for p in pairs):.0f} | **{ratio:.2f}** | {statistics.median(s[0] for s in statements):.0f} µs | {statement_ratio:.2f} | >= 0.9 |

Per-round ratios: {", ".join(f"{r:.2f}" for r in ratios)}. The decision never reads the
ledger: one statement reads the subject by its primary key and its projection row by the
unique (subject, purpose) index, so its cost follows the depth of two B-trees (one more level
at 1,000,000 subjects), not the ledger's length. Its plan on the large database
(`EXPLAIN (ANALYZE, BUFFERS)`, one random subject):

```
{large_plan}
```
""",
    )


def section_load(large: Scale, small: Scale) -> None:
    rows = "\n".join(
        f"| {s.name} | {s.records:,} | {s.subjects:,} | {s.load_seconds:.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in s.phases.items())}) | "
        + " | ".join(s.sizes[t] for t in TABLES)
        + f" | {s.sizes['database']} |"
        for s in (small, large)
        if s.sizes
    )
    write_section(
        "scale-load",
        f"""
## Large data set: load time and sizes (PostgreSQL, `make bench-scale`)

After migrating an empty database, the indexes and constraints of the four tables (and the
foreign keys pointing at them) are taken off, then one `INSERT ... SELECT FROM generate_series`
per table: subjects, one data key each (filler wrapped keys), the ledger (records spread over
two years, {len(PURPOSES)} purposes, each chained to its subject's previous record with filler
hashes) and the projection (the latest record per subject and purpose, computed from the same
series, not by sorting the ledger); then the indexes and constraints are rebuilt (foreign keys
validated) and `VACUUM ANALYZE` ({machine()}; load average {load_average()} at the end).

| database | ledger records | subjects | load time (phases) | subjects size | keys size | ledger size | projection size | database size |
|---|---|---|---|---|---|---|---|---|
{rows}
""",  # noqa: S608 (a document that names SQL, not SQL)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--small-records", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-load", action="store_true", help="reuse the loaded databases")
    parser.add_argument("--drop", action="store_true", help="drop both databases at the end")
    args = parser.parse_args()
    per_subject = max(1, args.records // args.subjects)
    large = Scale("bench_scale", args.records, args.subjects)
    small = Scale(
        "bench_scale_small", args.small_records, max(1, args.small_records // per_subject)
    )
    if not args.skip_load:
        for scale in (small, large):
            load(scale)
            print(f"loaded {scale.name}: {scale.load_seconds:.0f} s {scale.phases} {scale.sizes}")
        section_load(large, small)
    section_decisions(large, small, args.rounds, args.seconds)
    if args.drop:
        for scale in (small, large):
            psql(f"DROP DATABASE IF EXISTS {scale.name}")


if __name__ == "__main__":
    main()
