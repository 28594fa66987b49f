"""Sources and destinations:

- inbound webhook acceptance (the 202 path: signature, rate bucket, key and row inserted,
  the coalesced wake-up) as a ratio to the minimal Django JSON view, both served by the same
  gunicorn (2 sync workers) and measured with wrk on loopback, interleaved round after round
  (the median of per-round ratios), as bench_consent_api.py does; every call is a distinct
  signed Segment `track` call, signed beforehand (wrk's Lua has no HMAC);
- with --postgres (PostgreSQL + Redis): inbox payloads processed per second by real Celery
  workers (1, then 2 `celery worker -c 1` processes) draining a backlog, and the audience feed
  (every page of a destination's audience, consent decided per subject) among --small and
  --large subjects loaded set-based (INSERT ... SELECT FROM generate_series: subjects in an
  opt-out and an opt-in regime, their consent ledger rows and projection), rows/s and the cost
  growth per row.

Usage: uv run python bench/bench_sources.py [--postgres] [--seconds 5] [--rounds 3]
       [--events 3000] [--small 10000] [--large 1000000]
(BENCH_POSTGRES_URL and BENCH_REDIS_URL choose the database and the broker; installs Debian's
wrk with apt-get when missing)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_consent_api import cpu_seconds, ensure_wrk, free_port, gunicorn, wrk
from common import POSTGRES_URL, ROOT, machine, setup_django, write_section

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/2")
CALLS_PER_ROUND = 40_000  # signed beforehand; more than a round of wrk sends
ROWS_PER_STATEMENT = 200_000

SIGNED_LUA = """
local lines, counter = {}, 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  for line in io.lines("FILE") do lines[#lines + 1] = line end
  n = tid
end
function request()
  local line = lines[(n % #lines) + 1]
  n = n + 2
  local tab = line:find("\\t", 1, true)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Custodia-Signature"] = line:sub(1, tab - 1)}, line:sub(tab + 1))
end
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=3000, help="inbox payloads per wave")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument(
        "--only", choices=["accept", "process", "audience"], help="one part, printed, not written"
    )
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="custodia-bench-sources-"))
    if args.postgres:
        _flush_redis()
        # Before setup_django: the settings (and the Celery app) read these once.
        os.environ["CELERY_BROKER_URL"] = REDIS_URL
        os.environ["CACHE_URL"] = REDIS_URL
    else:
        os.environ["CELERY_BROKER_URL"] = f"sqla+sqlite:///{run_dir / 'broker.sqlite3'}"
    teardown = setup_django(POSTGRES_URL + "_sources" if args.postgres else None)
    ok = False
    try:
        vendor = "PostgreSQL + Redis" if args.postgres else "SQLite (embedded)"
        parts = {"accept": lambda: acceptance(args, run_dir, vendor)}
        if args.postgres:
            parts["process"] = lambda: processing(args.events, run_dir)
            parts["audience"] = lambda: audience(args.small, args.large)
        sections = [run() for name, run in parts.items() if args.only in (None, name)]
        ok = True
    finally:
        teardown()
        if args.postgres:
            _flush_redis()
        if ok:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            print(f"logs kept in {run_dir}", file=sys.stderr)
    body = "\n\n".join(
        [
            f"## Sources and destinations, {vendor} (bench/bench_sources.py)",
            f"{machine()}; load average {_load_average()} at the end.",
            *sections,
        ]
    )
    print(body)
    if args.only:
        return
    write_section("sources-postgresql" if args.postgres else "sources-sqlite", body)


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def _load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _source(name: str):
    from activation.models import SourceEndpoint
    from profiles.models import System

    system = System.objects.create(name=name, kind="source")
    return SourceEndpoint.objects.create(
        system=system, regions=["EU"], rate="1000000000/second", tolerance_seconds=86400
    )


def _signed_calls(source, path: Path, n: int) -> None:
    """n distinct signed `track` calls, one `signature<TAB>body` per line."""
    from core.webhooks import encode, sign

    with path.open("w") as out:
        for i in range(n):
            body = encode(
                {
                    "type": "track",
                    "messageId": f"wrk-{source.pk}-{i}",
                    "userId": f"shopper-{i % 5000}",
                    "event": "Product Viewed",
                    "properties": {"sku": f"SKU-{i % 300}", "price": 19.9},
                    "context": {"ip": "203.0.113.0", "userAgent": "bench"},
                }
            ).decode()
            out.write(f"{sign(source.secret, body.encode())}\t{body}\n")


def _gunicorn(run_dir: Path):
    from tests.workers import test_database_url

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "bench.benchsettings",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    server = gunicorn(
        env,
        port,
        stdout=(run_dir / "gunicorn.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/bench/minimal/", timeout=1)
            return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"gunicorn did not start: {(run_dir / 'gunicorn.log').read_text()}")


def acceptance(args: argparse.Namespace, run_dir: Path, vendor: str) -> str:
    from django.db import connection

    from activation.models import InboxMessage

    binary = ensure_wrk()
    scripts = []
    for r in range(args.rounds + 1):  # one source per round (and the warm-up): fresh ids
        source = _source(f"Bench shop {r}")
        calls = run_dir / f"calls-{r}.txt"
        _signed_calls(source, calls, CALLS_PER_ROUND)
        lua = run_dir / f"signed-{r}.lua"
        lua.write_text(SIGNED_LUA.replace("FILE", str(calls)))
        scripts.append((f"/api/v1/sources/{source.pk}/events/", str(lua)))
    connection.close()  # SQLite: the servers write the same file
    server, base = _gunicorn(run_dir)
    rounds = []
    try:
        wrk(binary, f"{base}/bench/minimal/", 1, [])
        wrk(binary, base + scripts[0][0], 1, [], scripts[0][1])  # warm both workers
        for path, lua in scripts[1:]:
            baseline = wrk(binary, f"{base}/bench/minimal/", args.seconds, [])
            accepted = wrk(binary, base + path, args.seconds, [], lua)
            rounds.append((baseline, accepted))
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = InboxMessage.objects.count()
    ratio = statistics.median(a / b for b, a in rounds)
    cache_kind = "Redis (`CACHE_URL`)" if os.environ.get("CACHE_URL") else "the embedded file cache"
    per_round = ", ".join(f"{a / b:.2f}" for b, a in rounds)
    print(f"[{vendor}] 202 path / minimal view: {ratio:.2f} (rounds {per_round}); {stored} stored")
    return f"""### Inbound webhook acceptance (the 202 path)

gunicorn with 2 sync workers on loopback (`DB_CONN_MAX_AGE=60`), wrk with 2 threads and 16
connections, {args.rounds} rounds of {args.seconds} s, the minimal JSON view and the 202 path
interleaved in each round; requests/s are medians over the rounds, the ratio the median of the
per-round ratios ({per_round}). Each call is a distinct signed Segment `track` call
(`POST /api/v1/sources/<id>/events/`), {stored:,} payloads stored in the inbox. The common
call (signed, within the size limit, from a JSON client) is answered on a lean path before
DRF's dispatch (`SourceEventsView.dispatch`), with DRF's body and headers; every error (and
anything unusual) goes through DRF's dispatch, which words it. On that path: one cache
`get_many` reads the source's endpoint version (the endpoint, with its secrets, is kept per
process under a version any change replaces), its rate bucket and the inbox's wake-up flag;
signature and call checked; the bucket taken (one cache write: on Redis a single `SET` with
its expiry); the payload's data key and the encrypted row inserted, committed on their own
before the answer (on PostgreSQL one statement, the key as a data-modifying CTE; on SQLite
one `BEGIN IMMEDIATE` transaction on the driver's connection, without Django's atomic block
and cursor wrappers); no wake-up asked when the flag was read set (else one cache `add`,
and a broker message only when it wins). Shared cache: {cache_kind} (the file cache reads
and writes an entry with plain system calls).

What bounds the ratio: CPU, two gunicorn workers beside wrk (and on PostgreSQL the server
and Redis) on two cores. What a call adds to the minimal view's work is each a guarantee of
the issue: the signature, a fresh data key wrapped under the master key, the payload
encrypted, two cache round trips (the read and the bucket's write: the limit is shared by
every process) and the durable insert of two rows, whose commit writes every B-tree page
the row, its key and their indexes touch (SQLite: about twelve pages to the WAL, and its
checkpoints; the inbox has no index on its source alone, which its unique (source, message
id) index serves). {"Under" if ratio < 0.5 else "At or over"} the 0.5 target.

| endpoint | requests/s | ratio to baseline | target |
|---|---|---|---|
| minimal JSON view | {statistics.median(b for b, _ in rounds):.0f} | 1.00 | |
| signed webhook, 202 | {statistics.median(a for _, a in rounds):.0f} | **{ratio:.2f}** | >= 0.5 |"""


def _backlog(n: int, tag: str) -> None:
    """n signed calls accepted through the service while a wake-up is held (none sent): the
    inbox a burst leaves. One `identify` (e-mail, plan) per four calls, the rest `track`."""
    from django.core.cache import cache

    from activation import services
    from core.webhooks import encode, sign

    source = _source(f"Bench pipeline {tag}")
    cache.set(services.WAKE_KEY, 1, timeout=3600)
    for i in range(n):
        user = f"{tag}-user-{i // 4}"
        call = (
            {
                "type": "identify",
                "userId": user,
                "traits": {"email": f"{user}@example.com", "plan": "gold"},
            }
            if i % 4 == 0
            else {"type": "track", "userId": user, "event": "Viewed", "properties": {"n": i}}
        )
        body = encode({**call, "messageId": f"{tag}-{i}"})
        services.inbox_accept(endpoint=source, body=body, signature=sign(source.secret, body))


def _own_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` itself."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _workers_cpu(workers) -> tuple[float, float]:
    """CPU seconds so far of the Celery worker processes (each main process and its pool's
    children) and of PostgreSQL's processes."""
    used, database = 0.0, 0.0
    for w in workers:
        tree = cpu_seconds(w.process.pid)
        used += _own_cpu(w.process.pid) + tree["workers"]
        database = tree["database"]
    return used, database


def _drain_rate(n: int, tag: str, workers) -> tuple[float, float, float]:
    """Release the wake-up and time until the workers processed the whole backlog; returns
    payloads/s and the workers' and PostgreSQL's CPU milliseconds per payload."""
    from django.core.cache import cache

    from activation import services
    from activation.models import InboxMessage

    cache.delete(services.WAKE_KEY)
    cpu_before = _workers_cpu(workers)
    started = time.perf_counter()
    services.inbox_wake()
    wave = InboxMessage.objects.filter(message_id__startswith=f"{tag}-")
    while wave.filter(status="pending").exists():
        if time.perf_counter() - started > 900:
            raise RuntimeError("the inbox did not drain in 15 minutes")
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    cpu_after = _workers_cpu(workers)
    dead = wave.filter(status="dead").count()
    assert dead == 0, f"{dead} payloads dead-lettered"
    per = [(after - before) * 1000 / n for before, after in zip(cpu_before, cpu_after, strict=True)]
    return n / elapsed, per[0], per[1]


def processing(n: int, run_dir: Path) -> str:
    from tests.workers import WorkerProcess

    def worker() -> WorkerProcess:
        return WorkerProcess(REDIS_URL, run_dir, concurrency=1).start(wait=False)

    from activation.models import InboxMessage as Inbox

    # The calls the acceptance part stored are still pending: the first wave's drains would
    # process them too (oldest first), uncounted, as happened until 2026-11-29 (1 worker then
    # read 180 payloads/s where it does about 480 alone).
    Inbox.objects.all().delete()
    _backlog(n, "one")
    _backlog(n, "two")  # both waves loaded before any worker runs
    from activation.models import InboxMessage

    InboxMessage.objects.filter(message_id__startswith="two-").update(
        claimed_until=dt.datetime(2999, 1, 1, tzinfo=dt.UTC)
    )
    workers = [worker()]
    try:
        workers[0].wait_ready()
        one, one_cpu, one_db = _drain_rate(n, "one", workers)
        InboxMessage.objects.filter(message_id__startswith="two-").update(claimed_until=None)
        workers.append(worker())
        workers[1].wait_ready()
        two, two_cpu, two_db = _drain_rate(n, "two", workers)
    finally:
        for w in workers:
            w.stop()
    print(f"[PostgreSQL] processed payloads/s: 1 worker {one:.0f}, 2 workers {two:.0f}")
    return f"""### Inbox processing (PostgreSQL + Redis)

A backlog of {n:,} accepted payloads per wave (one `identify` with an e-mail and a trait per
four calls, three `track` calls), drained by real `celery worker -c 1` processes: one wake-up,
then drains of {_batch()} claimed messages each (a full batch wakes the next drain, so the
workers share the backlog). A drain processes its batch in one transaction, with the outcome
of processing its messages one by one in order: the calls naming one person (sharing an
identity) joined into one record, then upserted per source through the bulk import's
set-based path (`profiles.services.records_ingest`), the messages' outcomes saved in a few
statements; before 2026-11-29 each message was upserted on its own (about 20 queries, 23 ms
of the worker's CPU per message; 38 payloads/s with 1 worker and 43 with 2 on a quiet
machine). Time from the wake-up until no message is pending; none dead-lettered. CPU per
payload: the worker processes' user + system time over the wave.

| workers | payloads/s | ratio | worker CPU per payload, ms | PostgreSQL CPU per payload, ms |
|---|---|---|---|---|
| 1 | {one:.0f} | 1.00 | {one_cpu:.2f} | {one_db:.2f} |
| 2 | {two:.0f} | **{two / one:.2f}** | {two_cpu:.2f} | {two_db:.2f} |"""


def _batch() -> int:
    from django.conf import settings

    return int(settings.CUSTODIA_INBOX_BATCH)


def _load_audience(first: int, last: int) -> float:
    """Subjects first..last-1, set-based: half in California (opt-out: no answer is allowed),
    half in the EU (opt-in); a tenth withdrew in California, three tenths granted in the EU
    (a ledger record and its projection each). 70% of them are in the audience."""
    from django.db import connection

    from consent.models import Purpose

    purpose = Purpose.objects.get(slug="marketing_email").pk
    subject = "md5('aud-' || g)::uuid"
    region = "(CASE WHEN g % 10 < 5 THEN 'US-CA' ELSE 'EU' END)"
    state = "(CASE WHEN g % 10 = 0 THEN 'withdrawn' ELSE 'granted' END)"
    record = "md5('aud-record-' || g)::uuid"
    answered = "g % 10 IN (0, 5, 6, 7)"
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for start in range(first, last, ROWS_PER_STATEMENT):
            series = f"generate_series({start}, {min(start + ROWS_PER_STATEMENT, last) - 1}) AS g"
            cursor.execute(
                "INSERT INTO profiles_subject (id, region, jurisdiction, status, created_at,"  # noqa: S608 - generated, no outside value
                f" updated_at) SELECT {subject}, {region}, '', 'active', now(), now()"
                f" FROM {series}"
            )
            cursor.execute(
                "INSERT INTO consent_consentrecord (id, subject_id, visitor_id, region,"  # noqa: S608 - generated, no outside value
                " jurisdiction, purpose_id, state, channel, recorded_at, user_agent,"
                " ip_truncated, gpc, tc_string, gpp_string, language, recorded_by, prev_hash,"
                f" hash) SELECT {record}, {subject}, '', {region}, '', {purpose}, {state},"
                " 'import', now(), '', '', false, '', '', '', 'bench', '', md5('h' || g)"
                f" FROM {series} WHERE {answered}"
            )
            cursor.execute(
                "INSERT INTO consent_currentconsent (subject_id, visitor_id, purpose_id, state,"  # noqa: S608 - generated, no outside value
                " record_id, gpc, recorded_at, needs_reprompt, region)"
                f" SELECT {subject}, '', {purpose}, {state}, {record}, false, now(), false,"
                f" {region} FROM {series} WHERE {answered}"
            )
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def _audience_walk(destination, expected: int) -> float:
    """Rows/s of the whole audience, page by page (the feed's selector), as its root token."""
    from access.scoping import Principal
    from activation.selectors import audience_all

    class Root:
        is_authenticated = is_active = is_superuser = True

    started = time.perf_counter()
    rows = audience_all(who=Principal(user=Root()), destination=destination)
    elapsed = time.perf_counter() - started
    assert len(rows) == expected, (len(rows), expected)
    return expected / elapsed


def audience(small: int, large: int) -> str:
    from activation.models import Destination
    from consent.models import Purpose
    from consent.regimes import seed_regimes
    from profiles.models import Subject, System

    seed_regimes()
    Subject.objects.all().delete()
    system = System.objects.create(name="Bench e-mail tool", kind="destination")
    destination = Destination.objects.create(system=system)
    destination.purposes.set(Purpose.objects.filter(slug="marketing_email"))
    small_load = _load_audience(0, small)
    small_rate = _audience_walk(destination, small * 7 // 10)
    large_load = _load_audience(small, large)
    large_rate = _audience_walk(destination, large * 7 // 10)
    growth = small_rate / large_rate
    print(
        f"[PostgreSQL] audience rows/s: {small:,} subjects {small_rate:.0f}, {large:,} "
        f"{large_rate:.0f}; cost growth per row {growth:.2f}"
    )
    return f"""### Audience feed (PostgreSQL)

Every page of a destination's audience (`activation.selectors.audience_all`, the feed's keyset
pages of 2,000 subject ids, consent decided per page by consent's bulk decisions), for one
purpose, among {small:,} then {large:,} subjects loaded set-based (generate_series: half in
California, opt-out, half in the EU, opt-in; a ledger record and its projection for the tenth
who withdrew in California and the three tenths who granted in the EU; loaded in
{small_load:.0f} s + {large_load:.0f} s). 70% of the subjects are in the audience; rows/s
counts them.

| subjects | audience rows | rows/s | cost per row |
|---|---|---|---|
| {small:,} | {small * 7 // 10:,} | {small_rate:.0f} | 1.00 |
| {large:,} | {large * 7 // 10:,} | {large_rate:.0f} | **{growth:.2f}** (target <= 1.2) |"""


if __name__ == "__main__":
    sys.exit(main())
