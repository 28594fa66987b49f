"""The "legacy shop": a small company database (9 tables, foreign keys, JSON, dates, numbers)
used by the demo (`seed_demo` registers it as a connected store), the tests (on SQLite,
PostgreSQL and MariaDB) and the benchmark. Built with SQLAlchemy Core, so one definition runs
on every dialect; table names take a prefix so several copies can share a database."""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

TABLES = (
    "customers",
    "addresses",
    "products",
    "orders",
    "order_items",
    "payments",
    "page_views",
    "support_tickets",
    "newsletter_subscriptions",
)


def shop_metadata(prefix: str = "") -> sa.MetaData:
    md = sa.MetaData()
    p = prefix
    sa.Table(
        f"{p}customers",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_no", sa.String(20), nullable=False, unique=True),
        sa.Column("email", sa.String(120), nullable=False, unique=True),
        sa.Column("first_name", sa.String(60), nullable=False),
        sa.Column("last_name", sa.String(60)),
        sa.Column("phone", sa.String(30)),
        sa.Column("birth_date", sa.Date),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("preferences", sa.JSON, nullable=False),
        sa.Column("loyalty_points", sa.Integer, nullable=False),
    )
    sa.Table(
        f"{p}addresses",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey(f"{p}customers.id"), nullable=False, index=True),
        sa.Column("street", sa.String(120), nullable=False),
        sa.Column("city", sa.String(60), nullable=False),
        sa.Column("postcode", sa.String(12)),
        sa.Column("country", sa.String(2), nullable=False),
    )
    sa.Table(
        f"{p}products",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sku", sa.String(20), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("list_price", sa.Numeric(10, 2), nullable=False),
    )
    sa.Table(
        f"{p}orders",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey(f"{p}customers.id"), nullable=False, index=True),
        sa.Column("address_id", sa.ForeignKey(f"{p}addresses.id"), index=True),
        sa.Column("ordered_at", sa.DateTime, nullable=False),
        sa.Column("total", sa.Numeric(10, 2), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("gift_note", sa.Text),
    )
    sa.Table(
        f"{p}order_items",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.ForeignKey(f"{p}orders.id"), nullable=False, index=True),
        sa.Column("product_id", sa.ForeignKey(f"{p}products.id"), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", sa.Numeric(10, 2), nullable=False),
    )
    sa.Table(
        f"{p}payments",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.ForeignKey(f"{p}orders.id"), nullable=False, index=True),
        sa.Column("iban", sa.String(34)),
        sa.Column("card_last4", sa.String(4)),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
    )
    sa.Table(
        f"{p}page_views",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey(f"{p}customers.id"), nullable=False, index=True),
        sa.Column("url", sa.String(200), nullable=False),
        sa.Column("viewed_at", sa.DateTime, nullable=False),
        sa.Column("ip_address", sa.String(45)),
        sa.Column("user_agent", sa.String(200)),
    )
    sa.Table(
        f"{p}support_tickets",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.ForeignKey(f"{p}customers.id"), index=True),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("topic", sa.String(120), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("context", sa.JSON),
    )
    sa.Table(
        f"{p}newsletter_subscriptions",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(120), nullable=False, index=True),
        sa.Column("subscribed_at", sa.DateTime, nullable=False),
        sa.Column("source", sa.String(30), nullable=False),
    )
    return md


def shop_drop(conn: Connection, prefix: str = "") -> None:
    shop_metadata(prefix).drop_all(conn, checkfirst=True)


def shop_rows(people: Iterable[dict[str, Any]], *, start: int = 1) -> dict[str, list[dict]]:
    """Rows for each person ({email, first_name, last_name, customer_no}): a customer, two
    addresses, two orders of two items with a payment each, three page views, a ticket and a
    newsletter subscription (16 rows per person). Customer ids start at `start`."""
    rows: dict[str, list[dict]] = {t: [] for t in TABLES}
    base = dt.datetime(2024, 3, 1, 10, 0)
    for n, person in enumerate(people, start=start):
        cid = n
        rows["customers"].append(
            {
                "id": cid,
                "customer_no": person["customer_no"],
                "email": person["email"],
                "first_name": person["first_name"],
                "last_name": person.get("last_name"),
                "phone": f"+4930{1000000 + n}",
                "birth_date": dt.date(1980 + n % 20, 1 + n % 12, 1 + n % 28),
                "created_at": base + dt.timedelta(days=n % 300),
                "preferences": {"newsletter": True, "topics": ["garden", "kitchen"]},
                "loyalty_points": 100 + n % 900,
            }
        )
        for a in range(2):
            rows["addresses"].append(
                {
                    "id": cid * 2 + a,
                    "customer_id": cid,
                    "street": f"{n} Linden Street",
                    "city": "Berlin" if a else "Hamburg",
                    "postcode": f"{10000 + n % 89999}",
                    "country": "DE",
                }
            )
        for o in range(2):
            oid = cid * 2 + o
            rows["orders"].append(
                {
                    "id": oid,
                    "customer_id": cid,
                    "address_id": cid * 2,
                    "ordered_at": base + dt.timedelta(days=o, hours=n % 24),
                    "total": decimal.Decimal("59.90"),
                    "status": "shipped",
                    "gift_note": "Happy birthday!" if o else None,
                }
            )
            for i in range(2):
                rows["order_items"].append(
                    {
                        "id": oid * 2 + i,
                        "order_id": oid,
                        "product_id": 1 + i,
                        "quantity": 1 + i,
                        "unit_price": decimal.Decimal("19.95") if i else decimal.Decimal("20.00"),
                    }
                )
            rows["payments"].append(
                {
                    "id": oid,
                    "order_id": oid,
                    "iban": "DE89370400440532013000",
                    "card_last4": None,
                    "amount": decimal.Decimal("59.90"),
                    "paid_on": (base + dt.timedelta(days=o)).date(),
                }
            )
        for v in range(3):
            rows["page_views"].append(
                {
                    "id": cid * 3 + v,
                    "customer_id": cid,
                    "url": f"/products/{v + 1}",
                    "viewed_at": base + dt.timedelta(minutes=v),
                    "ip_address": f"192.0.2.{n % 250}",
                    "user_agent": "Mozilla/5.0",
                }
            )
        rows["support_tickets"].append(
            {
                "id": cid,
                "customer_id": cid,
                "opened_on": base.date(),
                "topic": "Late delivery",
                "message": person.get("message", "Where is my parcel?"),
                "context": {"channel": "mail", "order": cid * 2},
            }
        )
        rows["newsletter_subscriptions"].append(
            {
                "id": cid,
                "email": person["email"],
                "subscribed_at": base,
                "source": "checkout",
            }
        )
    return rows


PRODUCTS = [
    {"id": 1, "sku": "GRD-01", "title": "Garden hose", "list_price": decimal.Decimal("20.00")},
    {"id": 2, "sku": "KIT-02", "title": "Kitchen scale", "list_price": decimal.Decimal("19.95")},
]


def shop_create(
    conn: Connection, people: Iterable[dict[str, Any]], *, prefix: str = "", start: int = 1
) -> dict[str, int]:
    """Create the shop's tables (dropping old ones) and fill them; returns rows per table."""
    md = shop_metadata(prefix)
    md.drop_all(conn, checkfirst=True)
    md.create_all(conn)
    counts = {}
    conn.execute(md.tables[f"{prefix}products"].insert(), PRODUCTS)
    counts["products"] = len(PRODUCTS)
    counts.update(shop_insert(conn, shop_rows(people, start=start), prefix=prefix, md=md))
    return counts


def shop_insert(
    conn: Connection,
    rows: dict[str, list[dict]],
    *,
    prefix: str = "",
    md: sa.MetaData | None = None,
) -> dict[str, int]:
    md = md or shop_metadata(prefix)
    counts = {}
    for name in TABLES:  # parents first
        if rows.get(name):
            conn.execute(md.tables[f"{prefix}{name}"].insert(), rows[name])
            counts[name] = len(rows[name])
    return counts


def demo_people() -> list[dict[str, str]]:
    return [
        {
            "email": "anna.schmidt@example.com",
            "first_name": "Anna",
            "last_name": "Schmidt",
            "customer_no": "C-1001",
        },
        {
            "email": "ben.keller@example.com",
            "first_name": "Ben",
            "last_name": "Keller",
            "customer_no": "C-1002",
        },
        {
            "email": "chloe.martin@example.com",
            "first_name": "Chloé",
            "last_name": "Martin",
            "customer_no": "C-1003",
        },
    ]


DEMO_STORE = "Legacy shop"


def seed(*, subjects: int, stdout: Any) -> None:
    """Register the legacy shop (a SQLite file in var/) as a connected store holding rows for
    the first demo subjects of each region, run discovery and approve its datasets, so the
    demo's requests reach it. Idempotent."""
    from django.conf import settings

    from audit.actors import Actor
    from consent.models import ProcessingActivity
    from profiles.models import Identifier, Subject
    from stores.connection import store_connection
    from stores.models import ConnectedStore, StoreDataset
    from stores.services import dataset_approve, dataset_ignore, store_discover

    if ConnectedStore.objects.filter(name=DEMO_STORE).exists():
        return
    actor = Actor.system("seed_demo")
    people = []
    for region in ("EU", "US-CA", "BR", "CA"):
        for subject in Subject.objects.filter(region=region, status="active").order_by(
            "created_at"
        )[:20]:
            found = {
                i.kind: i.value
                for i in Identifier.objects.filter(subject=subject).select_related("subject")
            }
            if "email" in found:
                people.append(
                    {
                        "email": found["email"],
                        "customer_no": found.get("customer_id", f"L-{len(people)}"),
                        "first_name": found["email"].split(".")[0].title(),
                        "last_name": None,
                    }
                )
    people += demo_people()
    path = settings.VAR_DIR / "legacy-shop.sqlite3"
    path.unlink(missing_ok=True)
    sqlite3.connect(path).close()
    store = ConnectedStore.objects.create(
        name=DEMO_STORE, dialect=ConnectedStore.Dialect.SQLITE, database=str(path)
    )
    with store_connection(store, write=True) as conn:
        counts = shop_create(conn, people)
    store.activities.set(ProcessingActivity.objects.filter(active=True)[:1])
    store_discover(store=store, actor=actor)
    for dataset in StoreDataset.objects.filter(store=store):
        if dataset.table == "products":
            dataset_ignore(dataset=dataset, actor=actor)
        else:
            dataset_approve(dataset=dataset, actor=actor)
    stdout.write(
        f"  demo connected store: {DEMO_STORE} ({len(counts)} tables, "
        f"{sum(counts.values())} rows) at {path}\n"
    )
