"""Shared helpers for the benchmarks: a throw-away database, timing, and docs/benchmarks.md.

Benchmarks print ratios against a baseline measured in the same run on the same machine (the
machine is shared and noisy); absolute numbers are printed for context only.
"""

from __future__ import annotations

import gc
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
# BENCH_POSTGRES_URL lets parallel runs (several worktrees) use their own database.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/bench")


def setup_django(database_url: str | None = None) -> Callable[[], None]:
    """Configure Django on a fresh database (test_<name> on PostgreSQL, a temp file on SQLite),
    migrated; returns the function that drops it."""
    sys.path.insert(0, str(ROOT))
    var_dir = tempfile.mkdtemp(prefix="custodia-bench-")
    os.environ["CUSTODIA_VAR_DIR"] = var_dir
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{var_dir}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")
    import django
    from django.db import connection

    django.setup()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return lambda: connection.creation.destroy_test_db(old_name, verbosity=0)


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median of `repeat` runs, in seconds (median resists a noisy neighbour better than mean).
    Each run starts after a full garbage collection: else a run that happens to trigger one of
    the whole heap (Django's, tens of milliseconds) pays for garbage others left; a 10,000-row
    read measured 0.07 s or 0.25 s depending on that, which made ratios against it swing 3x."""
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def machine() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between `<!-- bench:name -->` markers in benchmarks.md."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = (
        DOC.read_text()
        if DOC.exists()
        else (
            "# Benchmarks\n\nProduced by `make bench` (each script in `bench/` can also run alone). "
            "Every figure is a ratio against a baseline measured in the same run on the same machine; "
            "absolute numbers are context only (the machine is shared and noisy).\n"
        )
    )
    block = f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    DOC.write_text(text)
