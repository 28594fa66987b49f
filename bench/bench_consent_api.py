"""Decisions/s and consent writes/s through the HTTP API, each as a ratio to a minimal Django
JSON view served by the same gunicorn, measured with wrk on loopback in the same run: the
baseline and the two paths run interleaved, round after round, and each ratio is the median of
the per-round ratios (the machine is shared: a neighbour's burst hits one round, not one path).
Also counts the queries of one warm decision, one bulk decision of 1,000 pairs and one banner
write with 2 and 6 purposes.

Usage: uv run python bench/bench_consent_api.py [--postgres] [--seconds 5] [--rounds 3]
[--threads N] (N > 1: gunicorn's threaded workers, N threads each; default 1, sync workers)
[--workers N] (gunicorn workers, default 2)
(BENCH_POSTGRES_URL names the PostgreSQL database, dropped and created again; default
bench_consent)
(installs Debian's wrk with apt-get when missing)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from common import ROOT, machine, write_section

# Parallel runs (several worktrees) each name their own database.
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/bench_consent"
)


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn(
    env: dict[str, str], port: int, *, threads: int = 1, workers: int = 2, **popen
) -> subprocess.Popen:
    """The hub under gunicorn with 2 sync workers (or `threads` threads each) on loopback, as
    every HTTP bench here serves it."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "settings.wsgi:application",
            "-w",
            str(workers),
            *(["--threads", str(threads)] if threads > 1 else []),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        **popen,
    )


def prepare(env: dict[str, str]) -> str:
    """Migrate a fresh database, create subjects, a property and a token; return the token."""
    script = """
import django, os
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from audit.actors import Actor
from access.services import api_token_create, sync_roles
from django.contrib.auth.models import Group, User
from consent.models import ConsentProperty, Purpose
from consent.regimes import seed_regimes
from profiles.services import subject_upsert
seed_regimes(); sync_roles()
user, _ = User.objects.get_or_create(username="bench-service")
user.groups.add(Group.objects.get(name="Service account"))
from access.models import RegionScope
RegionScope.objects.get_or_create(user=user, defaults={"all_regions": True})
for i in range(200):
    subject_upsert(record={"region": "EU", "identifiers": [{"kind": "customer_id", "value": f"B{i}"}]},
                   actor=Actor.system("bench"))
for i in range(3):  # six optional purposes, for the banner write with 6 purposes
    Purpose.objects.get_or_create(slug=f"bench_extra_{i}", defaults={"name": f"Extra {i}",
                                  "description": "bench"})
prop, _ = ConsentProperty.objects.get_or_create(publishable_key="pk_bench", defaults={"name": "bench"})
prop.purposes.set(Purpose.objects.all())
_, raw = api_token_create(user=user, name="bench", scopes=["consent:read"], all_regions=True,
                          actor=Actor.system("bench"))
from profiles.models import Subject
print("TOKEN", raw, "SUBJECT", Subject.objects.first().pk)
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"TOKEN (\S+) SUBJECT (\S+)", out)
    return match.group(1), match.group(2)


QUERIES = """
import django, json
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from profiles.models import Subject
from consent.models import ConsentProperty, Purpose

token, subject = TOKEN, SUBJECT
api = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
public = Client(HTTP_HOST="127.0.0.1")
subjects = [str(pk) for pk in Subject.objects.values_list("pk", flat=True)[:250]]
slugs = list(Purpose.objects.filter(essential=False).values_list("slug", flat=True))


def count(call):
    call()  # warm: principal and reference data cached, as after a server's first request
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code == 200, response.content
    return len(queries)


def banner(n):
    visitors = iter(range(10**6))
    return lambda: public.post(
        "/api/v1/consent/public/consents/?key=pk_bench",
        {"visitor_id": f"count-{n}-{next(visitors):08d}", "region": "EU",
         "choices": dict.fromkeys(slugs[:n], "granted")},
        content_type="application/json",
    )


print("COUNTS", json.dumps({
    "decision": count(lambda: api.get(
        "/api/v1/consent/decision/", {"subject": subject, "purpose": "analytics"})),
    "bulk_1000": count(lambda: api.post(
        "/api/v1/consent/decisions/bulk/",
        {"subjects": subjects, "purposes": slugs[:4]}, content_type="application/json")),
    "banner_2": count(banner(2)),
    "banner_6": count(banner(6)),
    "purposes_available": len(slugs),
}))
"""


def query_counts(env: dict[str, str], token: str, subject: str) -> dict:
    script = QUERIES.replace("TOKEN", repr(token)).replace("SUBJECT", repr(subject))
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.split("COUNTS", 1)[1])


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the server's worker processes and by the
    database server's processes (PostgreSQL's; none on SQLite, whose work is the workers')."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"workers": 0.0, "database": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(fields[1]) == server_pid:
            used["workers"] += seconds
        elif name == "postgres":
            used["database"] += seconds
    return used


def wrk(
    binary: str, url: str, seconds: int, headers: list[str], script: str | None = None
) -> float:
    args = [binary, "-t2", "-c16", f"-d{seconds}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        raise RuntimeError(f"{non_2xx.group(1)} failed responses from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


# A visitor never seen before on every request: RUN (fresh per wrk run), the thread and a
# counter. (An unseeded math.random gives every thread and every run the same sequence: the
# two threads sent the same visitors at once, and each later round repeated the first round's
# visitors with the same choices, which the hub answers without writing anything.)
WRITE_LUA = """
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local n = 0
request = function()
  n = n + 1
  local visitor = string.format("bench-RUN-%d-%d", tid, n)
  local body = '{"visitor_id": "' .. visitor .. '", "region": "EU", "choices": {"analytics": "granted", "marketing_email": "denied"}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    load_before = os.getloadavg()
    binary = ensure_wrk()
    var_dir = tempfile.mkdtemp(prefix="custodia-bench-api-")
    env = {
        **os.environ,
        "CUSTODIA_VAR_DIR": var_dir,
        "DJANGO_SETTINGS_MODULE": "bench.benchsettings",
        "CUSTODIA_PUBLIC_CLIENT_RATE": "100000000/min",
        "CUSTODIA_PUBLIC_KEY_RATE": "100000000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        # Persistent connections, as a deployment sets them (docs/operations.md): without,
        # every request opens the database again (on SQLite with its PRAGMAs).
        "DB_CONN_MAX_AGE": "60",
    }
    if args.postgres:
        database = urllib.parse.urlsplit(POSTGRES_URL).path.lstrip("/")
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-c",
                f"DROP DATABASE IF EXISTS {database}",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {database}"],
            check=True,
            capture_output=True,
        )
        env["DATABASE_URL"] = POSTGRES_URL
    vendor = "PostgreSQL" if args.postgres else "SQLite (embedded)"
    token, subject = prepare(env)
    counts = query_counts(env, token, subject)
    port = free_port()
    server = gunicorn(env, port, threads=args.threads, workers=args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/bench/minimal/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)

        def lua() -> str:  # new visitors for each run of wrk
            path = Path(var_dir) / "write.lua"
            path.write_text(WRITE_LUA.replace("RUN", uuid.uuid4().hex[:12]))
            return str(path)

        auth = f"Authorization: Bearer {token}"
        decision_url = f"{base}/api/v1/consent/decision/?subject={subject}&purpose=analytics"
        write_url = f"{base}/api/v1/consent/public/consents/?key=pk_bench"
        # Warm both workers on every path (each path's first requests import its code and fill
        # its caches: the first round's ratios were half the later ones'), untimed.
        wrk(binary, f"{base}/bench/minimal/", 1, [auth])
        wrk(binary, decision_url, 1, [auth])
        wrk(binary, write_url, 1, [], lua())
        rounds, cpu = [], {"baseline": [], "decision": [], "write": []}

        def timed(name: str, url: str, headers: list[str], script: str | None = None) -> float:
            before = cpu_seconds(server.pid)
            rate = wrk(binary, url, args.seconds, headers, script)
            after = cpu_seconds(server.pid)
            requests = rate * args.seconds
            cpu[name].append(tuple((after[k] - before[k]) / requests * 1000 for k in after))
            return rate

        for _ in range(args.rounds):
            baseline = timed("baseline", f"{base}/bench/minimal/", [auth])
            decisions = timed("decision", decision_url, [auth])
            writes = timed("write", write_url, [], lua())
            rounds.append((baseline, decisions, writes))
    finally:
        server.terminate()
        server.wait(timeout=30)
    load = f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    server_kind = f"{args.threads} threads each (gthread)" if args.threads > 1 else "sync workers"
    baseline = statistics.median(r[0] for r in rounds)
    decisions = statistics.median(r[1] for r in rounds)
    writes = statistics.median(r[2] for r in rounds)
    decision_ratio = statistics.median(r[1] / r[0] for r in rounds)
    write_ratio = statistics.median(r[2] / r[0] for r in rounds)
    print(
        f"[{vendor}] baseline {baseline:.0f} req/s; decisions {decisions:.0f} req/s "
        f"({decision_ratio:.2f}); banner writes {writes:.0f} req/s ({write_ratio:.2f}); "
        f"queries {counts}; {server_kind}; {load}"
    )
    per_round = ", ".join(f"{r[1] / r[0]:.2f} / {r[2] / r[0]:.2f}" for r in rounds)
    print(f"per round, decision / write: {per_round}")
    cpu_ms = {
        name: tuple(statistics.median(r[i] for r in runs) for i in range(2))
        for name, runs in cpu.items()
    }
    print(f"CPU ms per request (workers, database server): {cpu_ms}")
    cache_kind = "Redis (`CACHE_URL`)" if os.environ.get("CACHE_URL") else "the embedded file cache"
    write_section(
        f"consent-api-{vendor.split()[0].lower()}" + ("" if args.threads == 1 else "-threaded"),
        f"""
## Consent API throughput ({vendor}, {server_kind})

gunicorn with 2 workers, {server_kind}, on loopback (`DB_CONN_MAX_AGE=60`), wrk with 2 threads and 16 connections,
{args.rounds} rounds of {args.seconds} s per endpoint after 1 s of each untimed, the baseline and both paths interleaved
in each round ({machine()}); requests/s are medians over the rounds, ratios the median of the
per-round ratios (per round, decision / write: {per_round}; {load}). Baseline: a minimal Django JSON
view behind the same middleware. Shared cache: {cache_kind}. Decisions: `GET
/api/v1/consent/decision/` with an API token (principal and reference data kept per process,
checked against their stamps in one cache read; the subject and its projection row in one
query). Writes: `POST /api/v1/consent/public/consents/` from the banner, every request a visitor's
first choice (an id never sent before: the run, the wrk thread and a counter; before
2026-11-28 the ids came from an unseeded `math.random`, the same in both threads and in every
round, so most timed writes repeated a choice already recorded and wrote nothing: the figures
then published, 0.28 and 0.30, were not those of writes). Two purposes; the reference data's
stamp and both rate buckets in one cache read, the buckets in one write; the two ledger
records chained in memory; on PostgreSQL one round trip, its own transaction committed (with
its WAL flushed) before the response: the visitor's lock, then the insert with the projection
upsert unless the visitor has a record or was identified, sent as one query of `EXECUTE`s of
statements prepared once per connection (a returning visitor's write then reads their choices
and appends after them: three round trips); on SQLite the read, the insert and the upsert in
one transaction under the write lock (the two workers queue for it on a file lock,
`core.db.sqlite3`, since 2026-11-29: before, a worker finding the lock held slept until
SQLite's next busy retry, 1 to 25 ms later).
The common banner write is answered on a lean path beside DRF's dispatch (same checks, same
response).

| endpoint | requests/s | ratio to baseline | target |
|---|---|---|---|
| minimal JSON view | {baseline:.0f} | 1.00 | |
| decision | {decisions:.0f} | **{decision_ratio:.2f}** | >= 0.5 |
| banner consent write (2 purposes) | {writes:.0f} | **{write_ratio:.2f}** | >= 0.3 |

CPU per request (medians over the rounds; the gunicorn workers' user + system time, and the
PostgreSQL server's processes', read from `/proc` around each wrk run, divided by the requests
served; 2 cores in all, shared with wrk):

| request | hub workers, ms | database server, ms |
|---|---|---|
| minimal JSON view | {cpu_ms["baseline"][0]:.2f} | {cpu_ms["baseline"][1]:.2f} |
| decision | {cpu_ms["decision"][0]:.2f} | {cpu_ms["decision"][1]:.2f} |
| banner consent write | {cpu_ms["write"][0]:.2f} | {cpu_ms["write"][1]:.2f} |

Queries per request on a warm process (Django's query capture):

| request | queries | budget |
|---|---|---|
| decision | {counts["decision"]} | 2 |
| bulk decision, 250 subjects x 4 purposes (1,000 pairs) | {counts["bulk_1000"]} | 3 |
| banner write, 2 purposes | {counts["banner_2"]} | 8 |
| banner write, 6 purposes | {counts["banner_6"]} | 8 |
""",
    )


if __name__ == "__main__":
    main()
