"""The audit log is append-only and tamper-evident."""

import threading
import uuid

import pytest
from django.core.management import call_command
from django.db import connection, connections

from audit.actors import Actor
from audit.models import AuditAlert, AuditEvent
from audit.services import audit_chain_check, audit_head_publish, audit_record
from audit.verify import verify_chain

pytestmark = pytest.mark.django_db(transaction=True)


def _append(n: int, **extra) -> list[AuditEvent]:
    actor = Actor.system("tests")
    return [
        audit_record(
            actor=actor,
            action="profiles.subject.read",
            object_type="profiles.subject",
            object_id=uuid.uuid4(),
            subject_id=uuid.uuid4(),
            region="EU",
            fields=["email", "name"],
            **extra,
        )
        for _ in range(n)
    ]


def _raw(sql: str, params: list) -> None:
    """Tamper as a DBA would: plain SQL, with the PostgreSQL guard trigger switched off."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def _verify_command(*args: str) -> tuple[int, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit_verify", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code), err.getvalue()
    return 0, out.getvalue()


def test_audit_verify_reports_ok_and_the_head_for_an_intact_chain():
    events = _append(5)
    code, output = _verify_command()
    assert code == 0
    assert output.startswith("OK 5 events")
    assert f"head 5:{events[-1].hash}" in output


def test_each_event_links_to_the_hash_of_the_previous_one():
    first, second = _append(2)
    assert first.prev_hash == "0" * 64
    assert second.prev_hash == first.hash
    assert second.sequence == first.sequence + 1


def test_editing_a_row_with_raw_sql_is_detected_and_the_row_named():
    events = _append(6)
    target = events[3]
    _raw("UPDATE audit_auditevent SET reason = %s WHERE id = %s", ["covered up", target.id])
    code, output = _verify_command()
    assert code == 1
    assert f"row id={target.id} sequence={target.sequence}" in output
    assert "content does not match its hash" in output


def test_rewriting_a_rows_hash_breaks_the_link_to_the_next_row():
    events = _append(4)
    _raw(
        "UPDATE audit_auditevent SET actor_label = %s, hash = %s WHERE id = %s",
        ["someone-else", "f" * 64, events[1].id],
    )
    report = verify_chain()
    assert not report.ok
    assert report.broken_row_id == events[1].id


def test_deleting_a_row_with_raw_sql_is_detected_at_the_gap():
    events = _append(5)
    _raw("DELETE FROM audit_auditevent WHERE id = %s", [events[2].id])
    code, output = _verify_command()
    assert code == 1
    assert f"row id={events[3].id} sequence=4" in output
    assert "sequence gap (missing row 3)" in output


def test_cutting_rows_off_the_end_is_detected_against_a_published_head():
    _append(3)
    head = audit_head_publish()
    later = _append(2)
    _raw("DELETE FROM audit_auditevent WHERE sequence >= %s", [head.sequence])
    assert verify_chain().ok  # a chain alone cannot see its own tail cut off...
    code, output = _verify_command("--head", f"{head.sequence}:{head.hash}")
    assert code == 1  # ...a published head can
    assert "rows were cut off the end" in output
    assert later


def test_orm_refuses_to_update_or_delete_audit_events():
    (event,) = _append(1)
    event.reason = "changed"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL trigger")
def test_postgresql_trigger_refuses_update_and_delete_by_plain_sql():
    from django.db import DatabaseError, transaction

    (event,) = _append(1)
    for sql in (
        "UPDATE audit_auditevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.id])
    assert verify_chain().ok


def test_eight_concurrent_writers_never_fork_the_chain():
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer() -> None:
        try:
            barrier.wait()
            _append(15)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.count() == 120
    sequences = sorted(AuditEvent.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, 121))
    assert verify_chain().ok


def test_periodic_check_raises_one_alert_for_a_broken_chain():
    events = _append(3)
    assert audit_chain_check().ok
    assert not AuditAlert.objects.exists()
    _raw("UPDATE audit_auditevent SET region = %s WHERE id = %s", ["US-CA", events[0].id])
    assert not audit_chain_check().ok
    assert not audit_chain_check().ok
    alert = AuditAlert.objects.get()
    assert alert.broken_sequence == 1
    assert alert.acknowledged_at is None
