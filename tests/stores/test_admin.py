"""An officer sets up a store in the admin: the password is stored encrypted and never shown
again, the test-connection and discovery buttons report counts, and a strategy that cannot
work on its column is refused."""

from __future__ import annotations

import sqlite3

import pytest

from stores.connection import store_connection
from stores.demo import demo_people, shop_create
from stores.models import ConnectedStore, StoreColumn, StoreDataset
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(client, roles):
    user = make_staff("Privacy officer")
    client.force_login(user)
    return user


def test_an_officer_adds_a_store_tests_it_and_runs_discovery(client, officer, tmp_path):
    path = tmp_path / "shop.db"
    sqlite3.connect(path).close()
    r = client.post(
        "/admin/stores/connectedstore/add/",
        {
            "name": "Shop",
            "dialect": "sqlite",
            "database": str(path),
            "read_user": "reader",
            "read_password": "s3cret-read",
            "timeout_seconds": 5,
            "active": "on",
        },
    )
    assert r.status_code == 302, r.content
    store = ConnectedStore.objects.get(name="Shop")
    assert store.read_password == "s3cret-read"
    raw = ConnectedStore.objects.filter(pk=store.pk).values_list("read_password", flat=True)[0]
    assert "s3cret-read" not in raw  # encrypted at rest under the store's key
    with store_connection(store, write=True) as conn:
        shop_create(conn, demo_people())

    page = client.get(f"/admin/stores/connectedstore/{store.pk}/change/")
    assert b"s3cret-read" not in page.content
    assert b"Test connection" in page.content

    form = {
        "name": "Shop",
        "dialect": "sqlite",
        "database": str(path),
        "read_user": "reader",
        "read_password": "",
        "timeout_seconds": 5,
        "active": "on",
    }
    r = client.post(
        f"/admin/stores/connectedstore/{store.pk}/change/", {**form, "_check": "1"}, follow=True
    )
    assert "read: ok" in r.content.decode()
    store.refresh_from_db()
    assert store.read_password == "s3cret-read"  # an empty field keeps the password
    r = client.post(
        f"/admin/stores/connectedstore/{store.pk}/change/", {**form, "_discover": "1"}, follow=True
    )
    assert "9 tables" in r.content.decode()
    assert StoreDataset.objects.filter(store=store, status="proposed").count() == 9

    # A NOT NULL column cannot be set to NULL: the approval says which and why.
    dataset = StoreDataset.objects.get(store=store, table="customers")
    StoreColumn.objects.filter(dataset=dataset, name="first_name").update(strategy="set_null")
    r = client.post(
        "/admin/stores/storedataset/",
        {"action": "approve", "_selected_action": [dataset.pk]},
        follow=True,
    )
    assert "first_name: NOT NULL, cannot be set to NULL" in r.content.decode()
    dataset.refresh_from_db()
    assert dataset.status == "proposed"


def test_the_dataset_list_costs_the_same_queries_for_more_datasets(client, officer, tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    store = ConnectedStore.objects.create(
        name="Big shop", dialect="sqlite", database=str(tmp_path / "big.db")
    )

    def add_datasets(count: int) -> None:
        for _ in range(count):
            dataset = StoreDataset.objects.create(
                store=store, table=f"t{StoreDataset.objects.count()}", discovered_at=timezone.now()
            )
            StoreColumn.objects.create(
                dataset=dataset, name="email", sql_type="TEXT", kind="text", category="contact"
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/admin/stores/storedataset/").status_code == 200
        return len(ctx)

    add_datasets(3)
    few = queries()
    add_datasets(9)
    assert queries() == few
