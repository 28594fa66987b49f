"""The consent ledger's admin list on a large ledger (PostgreSQL, not in CI): what page 1 and
deep pages cost for an officer of every region and for officers of some regions, with the
plan PostgreSQL chose for the list's query.

Loads `--records` ledger records set-based (one `INSERT ... SELECT FROM generate_series`) into
a fresh test database, spread over regions as a multi-region shop's (EU about 40 %, US-CA
20 %, GB, BR and CA 10 % each, US-VA 0.5 %) and over two years, then analyses the table and asks the
admin's changelist (Django's test client, signed in) for each page. Prints the median of
`--repeat` requests per page (absolute times: context, compare runs of the same machine) and
the EXPLAIN ANALYZE of the list query of page 1.

Usage: uv run python bench/bench_admin_lists.py [--records 200000] [--repeat 5]
       [--pages 1,10,100,1000] (BENCH_POSTGRES_URL: the server and database name to derive the
       test database from, as the other benchmarks)
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import POSTGRES_URL, setup_django

REGION = (
    "CASE WHEN g % 200 = 0 THEN 'US-VA' WHEN g % 10 = 1 THEN 'BR' WHEN g % 10 = 2 THEN 'GB'"
    " WHEN g % 10 = 3 THEN 'CA' WHEN g % 10 IN (4, 5) THEN 'US-CA' ELSE 'EU' END"
)
OFFICERS = {"every region": None, "EU and GB": ["EU", "GB"], "BR": ["BR"], "US-VA": ["US-VA"]}
LIST = "/admin/consent/consentrecord/"


def load(records: int) -> None:
    from django.db import connection

    from consent.models import Purpose

    purposes = list(Purpose.objects.values_list("pk", flat=True)) or [
        Purpose.objects.create(slug="analytics", name="Analytics").pk
    ]
    ids = "ARRAY[" + ",".join(map(str, purposes)) + "]"
    columns = (
        "id, visitor_id, region, jurisdiction, purpose_id, state, channel, recorded_at,"
        " user_agent, ip_truncated, gpc, tc_string, recorded_by, prev_hash, hash, language,"
        " gpp_string"
    )
    values = ", ".join(
        [
            "md5('record' || g)::uuid",
            "'visitor-' || (g % 50000)",
            REGION,
            "'GDPR'",
            f"({ids})[1 + g % {len(purposes)}]",
            "CASE WHEN g % 3 = 0 THEN 'denied' ELSE 'granted' END",
            "'banner'",
            f"now() - (interval '730 days' / {records}) * g",
            "'bench', '', false, '', ''",
            "repeat('0', 64), repeat('1', 64), 'en', ''",
        ]
    )
    rows = f"generate_series(1, {records}) g"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO consent_consentrecord ({columns}) SELECT {values} FROM {rows}")  # noqa: S608
        cursor.execute("VACUUM ANALYZE consent_consentrecord")


def page_times(client, pages: list[int], repeat: int) -> dict[int, float]:
    times = {}
    for page in pages:
        runs = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(LIST, {"p": page} if page > 1 else {})
            runs.append(time.perf_counter() - started)
            assert response.status_code in (200, 302), response.status_code
        times[page] = statistics.median(runs)
    return times


def list_plan(client) -> str:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(LIST)
    for q in sorted(queries, key=lambda q: -float(q["time"]))[:3]:
        print(f"  {float(q['time']) * 1000:.1f} ms: {q['sql'][:160]}")
    sql = next(
        q["sql"]
        for q in queries
        if 'FROM "consent_consentrecord"' in q["sql"] and "LIMIT" in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pages", default="1,10,100,1000")
    args = parser.parse_args()
    drop = setup_django(POSTGRES_URL)
    try:
        from django.core.management import call_command
        from django.test import Client

        from tests.factories import make_staff

        call_command("sync_roles", verbosity=0)
        started = time.perf_counter()
        load(args.records)
        print(f"{args.records} ledger records loaded in {time.perf_counter() - started:.1f} s")
        pages = [int(p) for p in args.pages.split(",")]
        for label, regions in OFFICERS.items():
            client = Client(HTTP_HOST="127.0.0.1")
            client.force_login(make_staff("Privacy officer", regions=regions))
            client.get(LIST)  # warm: caches, the planner's statistics read once
            times = page_times(client, pages, args.repeat)
            shown = ", ".join(f"page {p}: {t * 1000:.0f} ms" for p, t in times.items())
            print(f"\nofficer of {label}: {shown}")
            print(list_plan(client))
    finally:
        drop()


if __name__ == "__main__":
    main()
