"""`manage.py migrate` goes forward only: `migrate <app> <older>` on a live database would drop
the tables and columns the newer migrations created, with their data (docs/operations.md)."""

import os
import sqlite3
from pathlib import Path

import pytest

from tests.workers import manage


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> tuple[dict[str, str], Path]:
    """A throwaway SQLite database migrated to the newest state, in its own process."""
    var = tmp_path_factory.mktemp("migrate-var")
    database = var / "custodia.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"CACHE_URL", "CELERY_BROKER_URL"}},
        "CUSTODIA_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{database}",
    }
    manage("migrate", "--noinput", "-v", "0", env=env, check=True)
    return env, database


def _applied(database: Path, app: str) -> list[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT name FROM django_migrations WHERE app = ?", (app,)).fetchall()
    return sorted(name for (name,) in rows)


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_migrating_an_app_back_is_refused_and_unapplies_nothing(migrated):
    env, database = migrated
    before = _applied(database, "dsar")

    result = manage("migrate", "dsar", "0004", env=env)

    assert result.returncode != 0
    assert "forward-only" in result.stderr
    assert "dsar.0005_archive_chunks" in result.stderr  # says what would be lost
    assert "restore the database backup" in result.stderr
    assert _applied(database, "dsar") == before
    assert "dsar_exportarchivechunk" in _tables(database)  # archive contents kept


def test_migrating_an_app_to_zero_is_refused(migrated):
    env, database = migrated

    result = manage("migrate", "stores", "zero", env=env)

    assert result.returncode != 0
    assert "forward-only" in result.stderr
    assert "stores_connectedstore" in _tables(database)


def test_going_back_on_a_throwaway_database_needs_allow_backwards(migrated):
    env, database = migrated

    back = manage("migrate", "dsar", "0005", "--allow-backwards", "-v", "0", env=env)
    assert back.returncode == 0, back.stderr
    assert "0006_timeline_empty_note_unkeyed" not in _applied(database, "dsar")

    forward = manage("migrate", "-v", "0", env=env)
    assert forward.returncode == 0, forward.stderr
    assert "0006_timeline_empty_note_unkeyed" in _applied(database, "dsar")
