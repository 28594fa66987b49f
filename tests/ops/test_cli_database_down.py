"""A management command run while the database is unreachable says so in one line and exits
non-zero (an operator's cron mail, a deploy script), rather than a driver's traceback."""

from __future__ import annotations

import os
import subprocess

from tests.faults import free_port
from tests.workers import manage


def _run(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/custodia",
        "CUSTODIA_VAR_DIR": str(tmp_path),
    }
    return manage(*args, env=env, timeout=120)


def test_a_command_against_an_unreachable_database_says_so_in_one_line(tmp_path):
    result = _run("audit_verify", tmp_path=tmp_path)
    assert result.returncode == 1
    assert "the database is unreachable" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_traceback_still_gives_the_details(tmp_path):
    result = _run("audit_verify", "--traceback", tmp_path=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
