"""Hot statements sent to PostgreSQL planned once per connection, and several of them in one
round trip.

Django's PostgreSQL cursors bind parameters on the client: every call sends a new query text,
which the server parses and plans again. For a hot statement that is most of the server's
work (the banner's append: about 0.4 ms of planning against 0.1-0.3 ms of execution).
`pipelined` sends its statements with server-side binding through psycopg's pipeline mode
(one round trip for all of them), `fetch_prepared` one read with server-side binding; each
statement is prepared by psycopg once it has run
`prepare_threshold` times on the connection (settings: 5; a deployment behind a pooler that
cannot keep prepared statements sets DB_PREPARED_STATEMENTS=0, and they are then bound on
the server but planned each time).

The statements run in one implicit transaction, committed at the end when no transaction is
open (the pipeline's single Sync), each with its own snapshot under READ COMMITTED: a first
statement that takes a lock lets the next one read what the lock's previous holder committed.
Inside a transaction they run in it. They go through Django's cursor wrapper (so they are
counted, logged by DEBUG and `CaptureQueriesContext`, and their errors are Django's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection


def _driver_cursor() -> Any:
    """A server-side binding cursor on Django's connection, wrapped as Django wraps its own."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # A driver cursor, as Django wraps its own (django-stubs types it wrapped).
        cursor: Any = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


def fetch_prepared(sql: str, params: Sequence[Any]) -> list[tuple]:
    """The rows of one read: on PostgreSQL bound on the server and prepared (see the module);
    elsewhere through Django's cursor. A parameter whose type the statement leaves open must
    be cast in it."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    with _driver_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def pipelined(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[int]:
    """Run `statements` (SQL with %s placeholders, parameters) on PostgreSQL in one round
    trip; return each one's row count. Parameters bound on the server: a value whose type the
    statement leaves open must be cast in it (`CAST(%s AS bigint)`)."""
    connection.ensure_connection()
    cursors = []
    with connection.wrap_database_errors:
        with connection.connection.pipeline():
            for sql, params in statements:
                cursor = _driver_cursor()
                cursor.execute(sql, params)
                cursors.append(cursor)
        counts = [cursor.rowcount for cursor in cursors]
    for cursor in cursors:
        cursor.close()
    return counts
