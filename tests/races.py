"""Two writers at once, each on its own database connection, made to meet at one point: the
first pauses inside its transaction until the second has either finished or is waiting for one
of the first's locks (PostgreSQL's pg_locks says which), so a race runs the same way every time
without a sleep standing in for "the other got there"."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")

postgresql_only = pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="two transactions interleaved: SQLite's single writer runs them one after the other",
)


def lock_waiters() -> int:
    """Sessions of this database waiting for a lock another transaction holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database()"
        )
        return int(cursor.fetchone()[0])


def until_done_or_waiting(done: threading.Event, timeout: float = 10) -> None:
    """Inside the first writer's transaction: return once the second writer has finished
    (`done`) or waits for a lock (this transaction's, presumably)."""
    deadline = time.monotonic() + timeout
    while not done.is_set() and lock_waiters() == 0:
        if time.monotonic() > deadline:
            raise AssertionError("the second writer neither finished nor waited for a lock")
        time.sleep(0.01)


class Writer(threading.Thread):
    """Run `work` on a thread with its own connection; keep its result or its exception."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()
            self.done.set()

    def finish(self, timeout: float = 30) -> Writer:
        self.join(timeout)
        assert not self.is_alive(), "a writer did not finish"
        return self
