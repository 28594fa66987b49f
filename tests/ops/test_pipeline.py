"""core.db.pipeline on PostgreSQL: the banner's lock and append go in one round trip, in one
transaction, planned once per connection (prepared after 5 runs), and not prepared at all
when a deployment behind a pooler turns prepared statements off (DB_PREPARED_STATEMENTS=0)."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, connection

from consent.models import ConsentRecord
from core.db.pipeline import execute_together

pytestmark = [
    pytest.mark.skipif(
        not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="prepared statements: PostgreSQL only",
    ),
    pytest.mark.django_db(transaction=True),
]

BANNER = "/api/v1/consent/public/consents/?key=pk_pipeline"


@pytest.fixture
def banner_client(client, regimes):
    from consent.models import ConsentProperty, Purpose

    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_pipeline")
    prop.purposes.set(Purpose.objects.all())
    return client


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _write(client, n: int):
    response = client.post(
        BANNER,
        {
            "visitor_id": f"visitor-pipe-{n:04d}",
            "region": "EU",
            "choices": {"analytics": "granted"},
        },
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response


def test_the_banner_append_is_planned_once_per_connection(banner_client):
    for n in range(6):
        _write(banner_client, n)
    prepared = _prepared()
    assert any("pg_advisory_xact_lock" in sql for sql in prepared)
    assert any(ConsentRecord._meta.db_table in sql for sql in prepared)
    assert ConsentRecord.objects.filter(visitor_id__startswith="visitor-pipe-").count() == 6


def test_prepared_statements_can_be_turned_off_for_a_pooler(banner_client, settings):
    connection.close()
    settings.CUSTODIA_DB_PREPARED_STATEMENTS = False  # what DB_PREPARED_STATEMENTS=0 sets
    try:
        for n in range(6):
            _write(banner_client, n)
        assert _prepared() == []
        assert ConsentRecord.objects.filter(visitor_id__startswith="visitor-pipe-").count() == 6
    finally:
        connection.close()


def test_statements_sent_together_commit_or_fail_together(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE pipeline_probe (n integer PRIMARY KEY)")
    try:
        assert execute_together(
            [("INSERT INTO pipeline_probe VALUES (%s)", [1]), ("SELECT 1", [])]
        ) == [
            1,
            1,
        ]
        with pytest.raises(IntegrityError):  # Django's class (callers catch it), not psycopg's
            execute_together(
                [
                    ("INSERT INTO pipeline_probe VALUES (%s)", [2]),
                    ("INSERT INTO pipeline_probe VALUES (%s)", [1]),  # a duplicate key
                ]
            )
        with connection.cursor() as cursor:
            cursor.execute("SELECT n FROM pipeline_probe ORDER BY n")
            assert cursor.fetchall() == [(1,)]  # the 2 went with the failed duplicate
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE pipeline_probe")


def test_a_statement_deallocated_under_us_is_prepared_again(transactional_db):
    """A pooler's DISCARD ALL (or DEALLOCATE) drops the session's prepared statements: the
    next call prepares them again instead of failing."""
    statements = [("SELECT pg_advisory_xact_lock(CAST(%s AS bigint))", [7]), ("SELECT 1", [])]
    assert execute_together(statements) == [1, 1]
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert execute_together(statements) == [1, 1]
    assert any("pg_advisory_xact_lock" in sql for sql in _prepared())
