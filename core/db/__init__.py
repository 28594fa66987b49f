"""Database pieces shared by the apps: the SQLite writers' queue (`core.db.sqlite3`), the
PostgreSQL backend with prepared statements (`core.db.postgresql`, `core.db.pipeline`),
the test of a lock conflict that a transaction may simply run again (`conflicted`), and
functions that have the database format values as text (`core.db.functions`)."""

from __future__ import annotations

from django.db import OperationalError

# PostgreSQL's SQLSTATEs of a transaction that lost a lock race and may run again as it was:
# deadlock_detected, serialization_failure, lock_not_available.
_CONFLICTS = frozenset({"40P01", "40001", "55P03"})


def conflicted(exc: BaseException) -> bool:
    """Whether `exc` is a lock conflict with a concurrent transaction on PostgreSQL (a
    deadlock, a serialization failure) rather than a fault of the work itself: the transaction
    it rolled back may be run again unchanged. Not SQLite's "database is locked": its writers
    queue (`core.db.sqlite3`), so that error means a writer held the database for the whole
    timeout, which running again would only wait out once more."""
    if not isinstance(exc, OperationalError):
        return False
    return getattr(exc.__cause__, "sqlstate", None) in _CONFLICTS
