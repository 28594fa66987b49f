"""The embedded database's writers queue on a file lock (core.db.sqlite3): a writer waiting for
another starts as soon as that one commits, not at SQLite's next busy retry (1, 2, 5, 10 ...
ms later); the wait is still bounded by the database's timeout; the lock is released by every
commit and rollback, and never shared with a forked process."""

from __future__ import annotations

import fcntl
import os
import statistics
import threading
import time

import pytest
from django.db import connection, transaction
from django.db.utils import OperationalError

from core.db.sqlite3.base import DatabaseWrapper

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the embedded SQLite database's writers"
)


def _wrapper(path, timeout: float = 5) -> DatabaseWrapper:
    settings = {
        **connection.settings_dict,
        "NAME": str(path),
        "OPTIONS": {**connection.settings_dict["OPTIONS"], "timeout": timeout},
    }
    db = DatabaseWrapper(settings, alias="writer-queue-test")
    db.ensure_connection()
    return db


def _begin(db: DatabaseWrapper) -> None:
    db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def _end(db: DatabaseWrapper, *, commit: bool = True) -> None:
    db.commit() if commit else db.rollback()
    db.set_autocommit(True)


@pytest.fixture
def database(tmp_path, django_db_blocker):
    """A database file of its own (not the test database), opened by wrappers of the backend."""
    with django_db_blocker.unblock():
        yield _database(tmp_path)


def _database(tmp_path):
    path = tmp_path / "queue.sqlite3"
    setup = _wrapper(path)
    setup.cursor().execute("CREATE TABLE t (v INTEGER)")
    setup.close()
    return path


def _free(path) -> bool:
    fd = os.open(f"{path}-writer.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_waiting_writer_starts_as_soon_as_the_holder_commits(database):
    holder, waiter = _wrapper(database), _wrapper(database)
    waiter.inc_thread_sharing()  # used from the writing thread below
    lateness = []
    for hold in (0.045, 0.09, 0.14, 0.2, 0.26):
        _begin(holder)
        holder.cursor().execute("INSERT INTO t VALUES (1)")
        started = threading.Event()
        began: list[float] = []

        def write(started: threading.Event = started, began: list[float] = began) -> None:
            started.set()
            _begin(waiter)
            began.append(time.monotonic())
            waiter.cursor().execute("INSERT INTO t VALUES (2)")
            _end(waiter)

        thread = threading.Thread(target=write)
        thread.start()
        started.wait()
        time.sleep(hold)
        _end(holder)
        released = time.monotonic()
        thread.join(timeout=10)
        lateness.append(began[0] - released)
    # SQLite's own busy handler retried at 1, 3, 8, 18, 33, 53, 78, 103 ... ms: a writer
    # released at those moments began up to 25 ms late (median of these holds: about 20 ms).
    assert statistics.median(lateness) < 0.005, lateness
    assert holder.cursor().execute("SELECT count(*) FROM t").fetchone()[0] == 10
    holder.close()
    waiter.dec_thread_sharing()
    waiter.close()


def test_the_wait_is_bounded_by_the_database_timeout(database):
    holder, waiter = _wrapper(database), _wrapper(database, timeout=0.3)
    _begin(holder)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        _begin(waiter)
    assert 0.3 <= time.monotonic() - started < 2
    assert not waiter.in_atomic_block
    _end(holder)
    _begin(waiter)  # the lock is free again: the next try gets it at once
    _end(waiter)
    holder.close()
    waiter.close()


def test_commit_rollback_and_close_release_the_lock(database):
    db = _wrapper(database)
    _begin(db)
    assert not _free(database)
    _end(db)
    assert _free(database)
    _begin(db)
    _end(db, commit=False)
    assert _free(database)
    _begin(db)
    db.close()  # a connection closed mid-transaction (a killed request) frees it too
    assert _free(database)


@pytest.mark.django_db(transaction=True)
def test_the_hub_connection_queues_its_atomic_writes():
    """The default database uses the queue: an atomic block holds the lock until it ends,
    whether it commits or raises."""
    path = connection.settings_dict["NAME"]
    with transaction.atomic():
        connection.cursor().execute("SELECT 1")
        assert not _free(path)
    assert _free(path)

    def failing_request() -> None:
        with transaction.atomic():
            connection.cursor().execute("SELECT 1")
            raise RuntimeError("a failed request")

    with pytest.raises(RuntimeError):
        failing_request()
    assert _free(path)


def test_a_forked_child_takes_its_own_lock(database):
    """A prefork worker inherits its parent's connection object: it opens its own lock file
    description, so parent and child exclude each other."""
    db = _wrapper(database)
    _begin(db)  # the parent holds the lock
    _end(db)  # ...and has released it, keeping its descriptor open
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: take the lock through the inherited wrapper and hold it
        try:
            db.writer_lock_acquire()
            os.write(write, b"1")
            time.sleep(0.5)
        finally:
            os._exit(0)
    assert os.read(read, 1) == b"1"
    started = time.monotonic()
    db.writer_lock_acquire()  # waits for the child: the lock is not shared
    assert time.monotonic() - started > 0.2
    db.writer_lock_release()
    os.waitpid(pid, 0)
    db.close()
