"""Target databases for connected-store tests: the same tests run against SQLite (a file),
a second PostgreSQL database and MariaDB. Each test gets its own copy of the legacy shop
under a random table prefix, dropped afterwards, so runs can share a database.

Environment: CUSTODIA_TEST_STORE_PG_DB (default `stores_target`) on 127.0.0.1:5432 as user
postgres, CUSTODIA_TEST_STORE_MYSQL_DB (default `test`) on 127.0.0.1:3306 as root with an empty
password. An unreachable server skips its variant unless CUSTODIA_TEST_STORES_REQUIRED=1."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from audit.actors import Actor
from stores.connection import store_connection
from stores.demo import shop_create, shop_drop, shop_metadata
from stores.models import ConnectedStore, StoreDataset
from stores.services import dataset_approve, dataset_ignore, store_discover

OFFICER = Actor.system("officer")
CANARY = "canary-7f3ac9d2e1"

PEOPLE = [
    {
        "email": "alice.subject@example.com",
        "first_name": "Alice",
        "last_name": "Subject",
        "customer_no": "C-2001",
    },
    {
        "email": "bob.other@example.com",
        "first_name": "Bob",
        "last_name": "Other",
        "customer_no": "C-2002",
        "message": f"My code is {CANARY}, please help",
    },
    {
        "email": f"{CANARY}@example.com",
        "first_name": "Carol",
        "last_name": CANARY,
        "customer_no": "C-2003",
    },
]


@dataclass
class Target:
    dialect: str
    host: str = ""
    port: int | None = None
    database: str = ""
    user: str = ""

    def store(self, name: str, prefix: str, **over) -> ConnectedStore:
        fields = {
            "name": name,
            "dialect": self.dialect,
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "read_user": self.user,
            "write_user": self.user,
            "timeout_seconds": 5,
            "table_prefix": prefix,
            **over,
        }
        store = ConnectedStore(**fields)
        store.save()
        return store


def _target(kind: str, tmp_path: Path) -> Target:
    if kind == "sqlite":
        path = tmp_path / "shop.db"
        sqlite3.connect(path).close()
        return Target("sqlite", database=str(path))
    if kind == "postgresql":
        return Target(
            "postgresql",
            "127.0.0.1",
            5432,
            os.environ.get("CUSTODIA_TEST_STORE_PG_DB", "stores_target"),
            "postgres",
        )
    return Target(
        "mysql", "127.0.0.1", 3306, os.environ.get("CUSTODIA_TEST_STORE_MYSQL_DB", "test"), "root"
    )


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def target(request, tmp_path) -> Target:
    target = _target(request.param, tmp_path)
    probe = ConnectedStore(
        name="probe",
        dialect=target.dialect,
        host=target.host,
        port=target.port,
        database=target.database,
        read_user=target.user,
        write_user=target.user,
        timeout_seconds=3,
    )
    try:
        with store_connection(probe) as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError:
        if os.environ.get("CUSTODIA_TEST_STORES_REQUIRED") == "1":
            raise
        pytest.skip(f"{request.param} store database unreachable")
    return target


# Tables the tests add to the shop: a shipment is keyed by (order, number), and its delivery
# events point at it with a composite foreign key: the only way to reach them.
SHIPMENT_TABLES = ("shipments", "delivery_events")


def shipments_create(conn, prefix: str, orders: list[int]) -> None:
    md = shop_metadata(prefix)
    shipments = sa.Table(
        f"{prefix}shipments",
        md,
        sa.Column("order_id", sa.ForeignKey(f"{prefix}orders.id"), primary_key=True),
        sa.Column("shipment_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("carrier", sa.String(30), nullable=False),
        sa.Column("carrier_note", sa.String(200)),
        sa.Column("delivered_on", sa.Date),
    )
    events = sa.Table(
        f"{prefix}delivery_events",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.Integer, nullable=False),
        sa.Column("shipment_no", sa.Integer, nullable=False),
        sa.Column("happened_at", sa.DateTime, nullable=False),
        sa.Column("ip_address", sa.String(45)),
        sa.ForeignKeyConstraint(
            ["order_id", "shipment_no"],
            [f"{prefix}shipments.order_id", f"{prefix}shipments.shipment_no"],
        ),
    )
    md.create_all(conn, tables=[shipments, events])
    day = dt.date(2024, 3, 4)
    conn.execute(
        shipments.insert(),
        [
            {
                "order_id": o,
                "shipment_no": 1,
                "carrier": "DHL",
                "carrier_note": f"leave at door {o}",
                "delivered_on": day,
            }
            for o in orders
        ],
    )
    conn.execute(
        events.insert(),
        [
            {
                "id": o * 2 + e,
                "order_id": o,
                "shipment_no": 1,
                "happened_at": dt.datetime(2024, 3, 3, 8 + e),
                "ip_address": f"198.51.100.{o % 250}",
            }
            for o in orders
            for e in range(2)
        ],
    )


def shipments_drop(conn, prefix: str) -> None:
    for name in reversed(SHIPMENT_TABLES):
        sa.Table(f"{prefix}{name}", sa.MetaData()).drop(conn, checkfirst=True)


@pytest.fixture
def shop(target, db):
    """A legacy shop in the target database (with the tests' shipment tables), registered as a
    store; not yet discovered."""
    prefix = f"t{uuid.uuid4().hex[:6]}_"
    store = target.store("Legacy shop", prefix)
    with store_connection(store, write=True) as conn:
        shop_create(conn, PEOPLE, prefix=prefix)
        # Every person has two orders (ids 2n, 2n + 1 for customer n), one shipment each.
        shipments_create(
            conn, prefix, [2 * n + o for n in range(1, len(PEOPLE) + 1) for o in (0, 1)]
        )
    yield store
    with store_connection(store, write=True) as conn:
        shipments_drop(conn, prefix)
        shop_drop(conn, prefix)


def approve_all(store: ConnectedStore) -> None:
    for dataset in StoreDataset.objects.filter(store=store):
        if dataset.table.endswith("products"):
            dataset_ignore(dataset=dataset, actor=OFFICER)
        else:
            dataset_approve(dataset=dataset, actor=OFFICER)


@pytest.fixture
def mapped_shop(shop):
    store_discover(store=shop, actor=OFFICER)
    approve_all(shop)
    return shop
