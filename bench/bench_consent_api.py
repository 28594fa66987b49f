"""Decisions/s and consent writes/s through the HTTP API, each as a ratio to a minimal Django
JSON view served by the same gunicorn, measured with wrk on loopback in the same run.

Usage: uv run python bench/bench_consent_api.py [--postgres] [--seconds 8]
(installs Debian's wrk with apt-get when missing)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, machine, write_section

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/bench_consent"


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


WRITE_LUA = """
local n = 0
request = function()
  n = n + 1
  local visitor = string.format("bench-%d-%d", math.random(1, 100000000), n)
  local body = '{"visitor_id": "' .. visitor .. '", "region": "EU", "choices": {"analytics": "granted", "marketing_email": "denied"}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
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
    }
    if args.postgres:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-c",
                "DROP DATABASE IF EXISTS bench_consent",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE bench_consent"],
            check=True,
            capture_output=True,
        )
        env["DATABASE_URL"] = POSTGRES_URL
        env["DB_CONN_MAX_AGE"] = "60"
    vendor = "PostgreSQL" if args.postgres else "SQLite (embedded)"
    token, subject = prepare(env)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "settings.wsgi:application",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/bench/minimal/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        lua = Path(var_dir) / "write.lua"
        lua.write_text(WRITE_LUA)
        auth = f"Authorization: Bearer {token}"
        baseline = wrk(binary, f"{base}/bench/minimal/", args.seconds, [auth])
        decisions = wrk(
            binary,
            f"{base}/api/v1/consent/decision/?subject={subject}&purpose=analytics",
            args.seconds,
            [auth],
        )
        writes = wrk(
            binary,
            f"{base}/api/v1/consent/public/consents/?key=pk_bench",
            args.seconds,
            [],
            str(lua),
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"[{vendor}] baseline {baseline:.0f} req/s; decisions {decisions:.0f} req/s "
        f"({decisions / baseline:.2f}); banner writes {writes:.0f} req/s ({writes / baseline:.2f})"
    )
    write_section(
        f"consent-api-{vendor.split()[0].lower()}",
        f"""
## Consent API throughput ({vendor})

gunicorn with 2 sync workers on loopback, wrk with 2 threads and 16 connections for
{args.seconds} s per endpoint, same run ({machine()}). Baseline: a minimal Django JSON view
behind the same middleware. Decisions: `GET /api/v1/consent/decision/` with an API token
(token lookup, permission and region checks, one projection read). Writes: `POST
/api/v1/consent/public/consents/` from the banner with a new visitor each time (two purposes:
two ledger records with hash chain and projection, in one transaction).

| endpoint | requests/s | ratio to baseline |
|---|---|---|
| minimal JSON view | {baseline:.0f} | 1.00 |
| decision | {decisions:.0f} | **{decisions / baseline:.2f}** |
| banner consent write | {writes:.0f} | **{writes / baseline:.2f}** |
""",
    )


if __name__ == "__main__":
    main()
