"""Persistent database connections (DB_CONN_MAX_AGE) after the server ended them: a failover,
a restart or pg_terminate_backend must not turn the next request into a 500."""

from __future__ import annotations

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection

pytestmark = pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="ends a session with pg_terminate_backend: PostgreSQL only",
)


@pytest.fixture
def persistent_connection(transactional_db):
    """The test's connection, opened as DB_CONN_MAX_AGE=60 opens it in the web server."""
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60
    try:
        connection.ensure_connection()
        yield connection
    finally:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = 0


def _terminate(pid: int) -> None:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_persistent_connection_ended_by_the_server_is_replaced_at_the_next_request(
    persistent_connection,
):
    ended = persistent_connection.connection.info.backend_pid
    _terminate(ended)

    close_old_connections()  # what Django does when a request starts
    with persistent_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != ended
