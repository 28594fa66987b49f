"""An erasure across two connected stores on a real worker, killed with SIGKILL while the
second store is busy: after restart the request completes and every row was changed once
(a trigger in each store counts the updates of its customers)."""

from __future__ import annotations

import sqlite3
import time

import pytest
from django.test import TestCase
from django.utils import timezone

from audit.actors import Actor
from dsar import housekeeping, services
from dsar.models import DataSubjectRequest, RequestStep
from stores.connection import store_connection
from stores.demo import shop_create
from stores.models import ConnectedStore, StoreTask
from stores.services import store_discover
from tests.factories import make_subject
from tests.stores.conftest import OFFICER, PEOPLE, approve_all
from tests.workers import wait_for

pytestmark = pytest.mark.e2e
LEASE = 4
COUNTER = """
CREATE TABLE change_count (n INTEGER NOT NULL);
INSERT INTO change_count VALUES (0);
CREATE TRIGGER count_changes AFTER UPDATE ON shop_customers
BEGIN UPDATE change_count SET n = n + 1; END;
"""


def _store(name: str, path) -> ConnectedStore:
    sqlite3.connect(path).close()
    store = ConnectedStore.objects.create(
        name=name, dialect="sqlite", database=str(path), table_prefix="shop_", timeout_seconds=30
    )
    with store_connection(store, write=True) as conn:
        shop_create(conn, PEOPLE, prefix="shop_")
    raw = sqlite3.connect(path)
    raw.executescript(COUNTER)
    raw.close()
    store_discover(store=store, actor=OFFICER)
    approve_all(store)
    return store


def _changes(path) -> int:
    raw = sqlite3.connect(path)
    try:
        return raw.execute("SELECT n FROM change_count").fetchone()[0]
    finally:
        raw.close()


@pytest.mark.timeout(240)
def test_a_worker_killed_during_an_erasure_across_two_stores_changes_each_row_once(
    start_worker, settings, regimes, roles, tmp_path
):
    settings.CUSTODIA_STEP_LEASE_SECONDS = LEASE
    env = {"CUSTODIA_STEP_LEASE_SECONDS": str(LEASE)}
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    _store("A shop", first)
    _store("B shop", second)
    subject = make_subject(region="EU", email=PEOPLE[0]["email"])
    worker = start_worker(env=env)

    # Hold the second store's file: the worker erases in the first, then waits on the second.
    blocker = sqlite3.connect(second, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    dsr, _ = services.request_create(
        kind="erasure",
        channel="api",
        actor=Actor.system("crm-integration"),
        subject=subject,
        verification="service",
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.request_approve(request=dsr, actor=Actor.system("officer"))

    def first_store_erased():
        # What beat does in production: a step whose message was lost (or read before its
        # request committed) is sent again once its lease ran out; only steps before "stores"
        # here, so the stores step's attempts stay the test's to count.
        if RequestStep.objects.filter(
            request=dsr, name="locate", status="pending", lease_until__lt=timezone.now()
        ).exists():
            housekeeping.sweep()
        return StoreTask.objects.filter(request_id=dsr.pk, store__name="A shop", status="done")

    wait_for(first_store_erased, timeout=90, message="the first store to be erased")
    time.sleep(0.5)
    assert RequestStep.objects.get(request=dsr, name="stores").status == "running"
    worker.kill()
    blocker.execute("ROLLBACK")
    blocker.close()

    time.sleep(LEASE + 1)
    start_worker(env=env)

    def completed():
        housekeeping.sweep()
        return DataSubjectRequest.objects.get(pk=dsr.pk).status == "completed"

    wait_for(completed, timeout=120, interval=1, message="the request to complete")
    assert _changes(first) == 1  # one UPDATE of the subject's customer row, never repeated
    assert _changes(second) == 1
    assert RequestStep.objects.get(request=dsr, name="stores").attempts == 2
    assert set(StoreTask.objects.filter(request_id=dsr.pk).values_list("status", flat=True)) == {
        "done"
    }
