"""Persistent database connections (DB_CONN_MAX_AGE) after the server ended them: a failover,
a restart or pg_terminate_backend must not turn the next request into a 500. The check that
finds them (core/db/postgresql/base.py) costs no round trip while the connection is healthy."""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from django.db.backends.postgresql.base import DatabaseWrapper as DjangoPostgresWrapper

from audit.actors import Actor
from consent.models import Purpose
from consent.services import consent_record
from tests.factories import make_subject, make_token

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
        # Wait (up to 5 s) until the session has ended, as it has by the next request: the
        # server has sent its FATAL and closed the socket.
        ended = other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]
        assert ended, f"backend {pid} still running"


def test_a_persistent_connection_ended_by_the_server_is_replaced_at_the_next_request(
    persistent_connection,
):
    ended = persistent_connection.connection.info.backend_pid
    _terminate(ended)

    close_old_connections()  # what Django does when a request starts
    with persistent_connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != ended


def _get(path: str, query: str, token: str) -> tuple[str, bytes]:
    """One request through Django's WSGI handler, as gunicorn serves it: request_started and
    request_finished run close_old_connections (the test client skips that)."""
    environ: dict = {
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": "testserver",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.input": io.BytesIO(),
    }
    setup_testing_defaults(environ)
    started: list[str] = []
    body = b"".join(WSGIHandler()(environ, lambda status, headers: started.append(status)))
    return started[0], body


@pytest.fixture
def decision(persistent_connection, regimes):
    subject = make_subject(region="EU")
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=Actor.system("tests"),
        subject=subject,
    )
    _, raw = make_token(["consent:read"])
    return lambda: _get("/api/v1/consent/decision/", f"subject={subject.pk}&purpose=analytics", raw)


def _backend_pid() -> int:
    return connection.connection.info.backend_pid


def test_a_backend_terminated_between_two_requests_costs_no_5xx(decision):
    status, body = decision()
    assert status.startswith("200"), body
    ended = _backend_pid()
    _terminate(ended)

    status, body = decision()
    assert status.startswith("200"), body
    assert b'"allowed":true' in body.replace(b" ", b"")
    assert _backend_pid() != ended


def test_the_health_check_of_a_healthy_connection_sends_nothing(decision, monkeypatch):
    """No SELECT 1 per request: Django's round-trip check is not called while nothing arrived."""
    assert decision()[0].startswith("200")
    kept = _backend_pid()
    round_trips: list[int] = []
    monkeypatch.setattr(
        DjangoPostgresWrapper, "is_usable", lambda self: round_trips.append(1) or True
    )
    for _ in range(3):
        status, body = decision()
        assert status.startswith("200"), body
    assert round_trips == []
    assert _backend_pid() == kept


def test_a_connection_in_a_failed_transaction_or_closed_is_not_usable(persistent_connection):
    raw = persistent_connection.connection
    assert persistent_connection.is_usable()
    raw.autocommit = False
    with pytest.raises(psycopg.errors.DivisionByZero):
        raw.execute("SELECT 1 / 0")
    assert not persistent_connection.is_usable()  # INERROR: the next statement would fail
    raw.rollback()
    raw.autocommit = True
    assert persistent_connection.is_usable()
    raw.close()
    assert not persistent_connection.is_usable()
