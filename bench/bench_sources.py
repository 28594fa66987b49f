"""Inbound webhook acceptance (the 202 path: signature, rate bucket, encrypted insert) as a
ratio to the minimal Django JSON view, both through Django's test client in one process,
interleaved round after round (median of per-round ratios); and the audience feed's rows/s at
two sizes (cost growth per row). In-process, SQLite by default: a first figure, not the wrk +
gunicorn measurement on PostgreSQL + Redis the issue asks for.

Usage: uv run python bench/bench_sources.py [--postgres] [--calls 300] [--rounds 3]
       [--small 500] [--large 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import POSTGRES_URL, machine, setup_django, write_section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=5000)
    args = parser.parse_args()
    teardown = setup_django(POSTGRES_URL + "_sources" if args.postgres else None)
    try:
        body = run(args)
    finally:
        teardown()
    print(body)
    write_section("sources", body)


def run(args: argparse.Namespace) -> str:
    from django.test import Client
    from django.test.utils import override_settings

    from activation.models import SourceEndpoint
    from core.webhooks import encode, sign
    from profiles.models import System

    system = System.objects.create(name="Bench shop", kind="source")
    source = SourceEndpoint.objects.create(system=system, regions=["EU"], rate="1000000/s")
    client = Client(HTTP_HOST="127.0.0.1")
    url = f"/api/v1/sources/{source.pk}/events/"
    ratios, accept_rates = [], []
    counter = iter(range(10**9))
    with override_settings(ROOT_URLCONF="bench.urls", ALLOWED_HOSTS=["*"]):
        for _ in range(args.rounds):
            started = time.perf_counter()
            for _ in range(args.calls):
                client.get("/bench/minimal/")
            baseline = args.calls / (time.perf_counter() - started)
            started = time.perf_counter()
            for _ in range(args.calls):
                call = {
                    "type": "track",
                    "messageId": f"b{next(counter)}",
                    "userId": "u",
                    "event": "Viewed",
                }
                data = encode(call)
                response = client.post(
                    url,
                    data=data,
                    content_type="application/json",
                    HTTP_CUSTODIA_SIGNATURE=sign(source.secret, data),
                )
                assert response.status_code == 202, response.content
            accepted = args.calls / (time.perf_counter() - started)
            ratios.append(accepted / baseline)
            accept_rates.append(accepted)
    small, large = audience_rate(args.small), audience_rate(args.large)
    return "\n".join(
        [
            "## Sources and destinations (bench/bench_sources.py)",
            "",
            f"{machine()}; in-process Django test client, {'PostgreSQL' if args.postgres else 'SQLite'}.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| 202 path / minimal view (median of {args.rounds} rounds x {args.calls} calls) "
            f"| {statistics.median(ratios):.2f}x ({statistics.median(accept_rates):.0f} calls/s) |",
            f"| audience feed rows/s, {args.small} subjects | {small:.0f} |",
            f"| audience feed rows/s, {args.large} subjects | {large:.0f} |",
            f"| cost growth per row {args.small} -> {args.large} | {small / large:.2f}x |",
        ]
    )


def audience_rate(n: int) -> float:
    """Rows/s of the full audience walk (every subject consented by regime default)."""
    from access.scoping import Principal
    from activation.models import Destination
    from activation.selectors import audience_all
    from consent.models import Purpose
    from profiles.models import Subject, SubjectKey, System

    Subject.objects.all().delete()
    subjects = [Subject(region="US-CA") for _ in range(n)]
    Subject.objects.bulk_create(subjects, batch_size=2000)
    SubjectKey.objects.none()
    system, _ = System.objects.get_or_create(name="Bench tool", kind="destination")
    destination, _ = Destination.objects.get_or_create(system=system)
    destination.purposes.set(Purpose.objects.filter(slug="marketing_email"))

    class Root:
        is_authenticated = is_active = is_superuser = True

    who = Principal(user=Root())
    started = time.perf_counter()
    rows = audience_all(who=who, destination=destination)
    elapsed = time.perf_counter() - started
    assert len(rows) == n, (len(rows), n)
    return n / elapsed


if __name__ == "__main__":
    sys.exit(main())
