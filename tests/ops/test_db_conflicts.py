"""`core.db.conflicted` tells a lock race with another transaction, which may simply be run
again, from a fault of the work: a real deadlock between two PostgreSQL sessions is one, a
broken statement is not."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from core.db import conflicted
from profiles.models import System


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="two sessions locking rows in opposite orders: PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_is_a_conflict():
    first = System.objects.create(name="A", kind=System.Kind.SOURCE)
    second = System.objects.create(name="B", kind=System.Kind.SOURCE)
    both_hold_one = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def lock(order):
        try:
            with transaction.atomic():
                System.objects.select_for_update().get(pk=order[0].pk)
                both_hold_one.wait()
                System.objects.select_for_update().get(pk=order[1].pk)
        except DatabaseError as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=lock, args=((first, second),)),
        threading.Thread(target=lock, args=((second, first),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(errors) == 1  # the database broke the cycle by rolling one back
    assert conflicted(errors[0])


@pytest.mark.django_db
def test_a_broken_statement_is_no_conflict():
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute("SELECT * FROM no_such_table")
    assert not conflicted(caught.value)
    assert not conflicted(ValueError("deadlock detected"))
