"""Django's SQLite backend whose writers queue on a file lock instead of SQLite's busy sleeps.

The embedded setup writes one SQLite file from several processes (the web server's workers,
the Celery workers, beat). A write transaction starts with ``BEGIN IMMEDIATE``; when another
process holds the write lock, SQLite's busy handler sleeps and retries: 1 ms, then 2, 5, 10,
15, 20, 25 ms... whether the lock was released a few microseconds after the first try or not.
Two web workers writing consent choices each waited 1.8 ms per write on average that way (p99
34 ms), with their CPU idle, for transactions that hold the lock well under a millisecond.

Here every write transaction of this backend first takes an exclusive ``flock`` on a lock file
beside the database (``<name>-writer.lock``) and keeps it until its COMMIT or ROLLBACK, so
writers wait their turn in the kernel and the next one starts as soon as the lock is free
(polled every few microseconds, backing off to 0.2 ms). SQLite's own lock stays the guarantee:
a writer that does not take the file lock (the sqlite3 shell, another program) is waited for
by SQLite as before. The wait is bounded by the database's ``timeout`` option, after which the
write fails as SQLite's would ("database is locked"). An in-memory database has no lock file.
"""

from __future__ import annotations

import fcntl
import os
import time

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper
from django.db.utils import OperationalError

_FIRST_PAUSE = 0.00002  # seconds between tries of a held lock, doubling up to _MAX_PAUSE
_MAX_PAUSE = 0.0002


class DatabaseWrapper(SQLiteDatabaseWrapper):
    _writer_fd: int | None = None
    _writer_held = False
    _writer_pid = 0  # the process that opened _writer_fd (a forked child opens its own)

    def _writer_lock_path(self) -> str | None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db() or name.startswith("file:"):
            return None
        return f"{name}-writer.lock"

    def writer_lock_acquire(self) -> None:
        """Take the file lock of this database's writers (a no-op when held or in memory)."""
        if self._writer_pid != os.getpid():
            # Inherited across a fork (a prefork worker): the descriptor is the parent's, and
            # a flock belongs to the open file, which parent and child would share.
            self._writer_fd, self._writer_held = None, False
        if self._writer_held:
            return
        if self._writer_fd is None:
            path = self._writer_lock_path()
            if path is None:
                return
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._writer_pid = os.getpid()
        fd = self._writer_fd
        pause, deadline = _FIRST_PAUSE, None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + float(self.settings_dict["OPTIONS"].get("timeout", 5))
                elif now > deadline:
                    raise OperationalError("database is locked") from None
                time.sleep(pause)
                pause = min(pause * 2, _MAX_PAUSE)
                continue
            self._writer_held = True
            return

    def writer_lock_release(self) -> None:
        if self._writer_held and self._writer_fd is not None and self._writer_pid == os.getpid():
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)
        self._writer_held = False

    def _start_transaction_under_autocommit(self) -> None:
        self.writer_lock_acquire()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self.writer_lock_release()
            raise

    def _release_unless_in_transaction(self) -> None:
        raw = self.connection
        if raw is None or not raw.in_transaction:
            self.writer_lock_release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            self._release_unless_in_transaction()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._release_unless_in_transaction()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self.writer_lock_release()
            if self._writer_fd is not None and self._writer_pid == os.getpid():
                os.close(self._writer_fd)
            self._writer_fd = None
