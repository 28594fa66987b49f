"""Cutting the audit chain short does not go unnoticed: `audit_verify` checks the chain against
the newest head published in the database and the head kept in a file outside it, publishing
never goes backwards, and on PostgreSQL the audit tables refuse TRUNCATE."""

import io
import uuid

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.actors import Actor
from audit.models import AuditAlert, AuditEvent, PublishedHead
from audit.services import audit_chain_check, audit_record

pytestmark = pytest.mark.django_db(transaction=True)

_TRIGGERS = {
    "audit_auditevent": ["audit_event_append_only"],
    "audit_publishedhead": ["audit_head_keep"],
}


def _append(n: int) -> list[AuditEvent]:
    return [
        audit_record(
            actor=Actor.system("tests"),
            action="profiles.subject.read",
            object_type="profiles.subject",
            object_id=uuid.uuid4(),
            region="EU",
        )
        for _ in range(n)
    ]


def _raw_delete(table: str, where: str = "", params: list | None = None) -> None:
    """Tamper as someone with SQL access would (on PostgreSQL, with the row triggers off)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for trigger in _TRIGGERS[table]:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        cursor.execute(f"DELETE FROM {table} {where}", params or [])  # noqa: S608 - test constants
        if connection.vendor == "postgresql":
            for trigger in _TRIGGERS[table]:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def _command(name: str, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code), err.getvalue()
    return 0, out.getvalue()


def test_an_intact_chain_verifies_against_the_database_head_and_the_head_file(tmp_path):
    _append(3)
    head_file = tmp_path / "audit-head"
    code, printed = _command("audit_head", "--file", str(head_file))
    assert code == 0
    assert head_file.read_text().strip() == printed.strip()
    _append(2)
    code, output = _command("audit_verify", "--head-file", str(head_file))
    assert (code, output.split(",")[0]) == (0, "OK 5 events")


def test_cutting_the_last_rows_is_reported_against_the_head_kept_in_the_database():
    _append(3)
    assert _command("audit_head")[0] == 0
    _append(2)
    _raw_delete("audit_auditevent", "WHERE sequence >= %s", [3])
    code, output = _command("audit_verify")
    assert code == 1
    assert "the chain ends at sequence 2, short of head 3 published in the database" in output
    assert "rows were cut off the end" in output


def test_an_emptied_log_is_not_ok_zero_events():
    _append(4)
    _command("audit_head")
    _raw_delete("audit_auditevent")
    code, output = _command("audit_verify")
    assert code == 1
    assert "ends at sequence 0, short of head 4" in output


def test_the_head_file_catches_a_cut_that_also_removed_the_database_heads(tmp_path, settings):
    head_file = tmp_path / "audit-head"
    _append(3)
    _command("audit_head", "--file", str(head_file))
    _raw_delete("audit_auditevent", "WHERE sequence >= %s", [2])
    _raw_delete("audit_publishedhead")
    assert _command("audit_verify")[0] == 0  # nothing in the database remembers the cut...
    code, output = _command("audit_verify", "--head-file", str(head_file))
    assert code == 1  # ...the file outside it does
    assert f"short of head 3 published in the file {head_file}" in output
    settings.CUSTODIA_AUDIT_HEAD_FILE = str(head_file)
    assert _command("audit_verify")[0] == 1  # the setting names the same file
    assert not audit_chain_check().ok  # and so does the hourly check
    assert AuditAlert.objects.filter(kind="chain_broken").exists()


def test_a_rewritten_row_at_a_published_head_is_reported():
    _append(3)
    _command("audit_head")
    _raw_delete("audit_auditevent", "WHERE sequence = %s", [3])
    audit_record(
        actor=Actor.system("someone"),
        action="profiles.subject.read",
        object_type="profiles.subject",
        object_id="x",
    )
    code, output = _command("audit_verify")
    assert code == 1
    assert "differs from the head published in the database" in output


def test_publishing_refuses_to_go_backwards_after_a_cut(tmp_path):
    head_file = tmp_path / "audit-head"
    _append(5)
    _command("audit_head", "--file", str(head_file))
    _raw_delete("audit_auditevent", "WHERE sequence >= %s", [4])
    _append(1)
    code, output = _command("audit_head", "--file", str(head_file))
    assert code == 1
    assert "head 5 published in the database is no longer in the chain" in output
    assert head_file.read_text().startswith("5:")
    assert list(PublishedHead.objects.values_list("sequence", flat=True)) == [5]
    assert AuditAlert.objects.get(kind="chain_cut").broken_sequence == 5


def test_the_hourly_check_reports_a_cut_against_the_database_head():
    _append(3)
    _command("audit_head")
    _raw_delete("audit_auditevent", "WHERE sequence = %s", [3])
    report = audit_chain_check()
    assert not report.ok
    assert AuditAlert.objects.get(kind="chain_broken").broken_sequence == 3


def test_a_missing_head_file_named_on_the_command_line_is_an_error(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no head file"):
        call_command("audit_verify", "--head-file", str(tmp_path / "nowhere"))


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL trigger")
@pytest.mark.parametrize("table", ["audit_auditevent", "audit_publishedhead"])
def test_postgresql_refuses_truncate_of_the_audit_tables(table):
    _append(2)
    _command("audit_head")
    with transaction.atomic(), connection.cursor() as cursor:
        # The test session may truncate (Django's flush); an ordinary session may not.
        cursor.execute("SET LOCAL custodia.allow_audit_truncate = 'off'")
        with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"):
            cursor.execute(f"TRUNCATE {table} CASCADE")
        transaction.set_rollback(True)
    assert AuditEvent.objects.count() == 2
    assert PublishedHead.objects.count() == 1
    assert _command("audit_verify")[0] == 0


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL trigger")
def test_postgresql_refuses_deleting_a_published_head():
    _append(1)
    _command("audit_head")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_publishedhead")
    assert PublishedHead.objects.count() == 1
