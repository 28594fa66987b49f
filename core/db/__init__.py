"""Database pieces shared by the apps: the SQLite writers' queue (`core.db.sqlite3`), the
PostgreSQL backend with prepared statements (`core.db.postgresql`, `core.db.pipeline`), and
the test of a lock conflict that a transaction may simply run again (`conflicted`)."""

from __future__ import annotations

from django.db import OperationalError

# PostgreSQL's SQLSTATEs of a transaction that lost a lock race and may run again as it was:
# deadlock_detected, serialization_failure, lock_not_available.
_CONFLICTS = frozenset({"40P01", "40001", "55P03"})


def conflicted(exc: BaseException) -> bool:
    """Whether `exc` is a lock conflict with a concurrent transaction (a deadlock on
    PostgreSQL, a busy database on SQLite) rather than a fault of the work itself: the
    transaction it rolled back may be run again unchanged."""
    if not isinstance(exc, OperationalError):
        return False
    if getattr(exc.__cause__, "sqlstate", None) in _CONFLICTS:
        return True
    return "database is locked" in str(exc)
