"""A SQLite store's database is a file path, opened read-only to read and read-write to write,
never created: a "?" or "#" in the path is part of the name, not the start of SQLite's URI
parameters (which could ask for mode=rwc and create any file the hub may write)."""

from __future__ import annotations

import sqlite3

import pytest

from audit.actors import Actor
from stores.connection import store_connection
from stores.models import ConnectedStore
from stores.services import store_check

pytestmark = pytest.mark.django_db


def test_uri_parameters_in_the_path_do_not_create_a_database(tmp_path):
    target = tmp_path / "created.db"
    store = ConnectedStore.objects.create(
        name="Sneaky", dialect="sqlite", database=f"{target}?mode=rwc#", timeout_seconds=2
    )
    result = store_check(store=store, actor=Actor.system("tests"))
    assert "ok" not in result
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_path_with_spaces_percent_signs_and_question_marks_opens_that_file(tmp_path):
    target = tmp_path / "my shop 100%?.db"
    with sqlite3.connect(target) as db:
        db.execute("CREATE TABLE t (x INTEGER)")
    store = ConnectedStore.objects.create(
        name="Odd", dialect="sqlite", database=str(target), timeout_seconds=2
    )
    assert store_check(store=store, actor=Actor.system("tests")) == "read: ok; write: ok"
    with store_connection(store) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
