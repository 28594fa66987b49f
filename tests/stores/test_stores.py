"""Connected SQL stores against real databases (SQLite, PostgreSQL, MariaDB; see conftest):
discovery classifies the legacy shop and keeps no sampled value; an access request exports
exactly the subject's rows; an erasure changes exactly those rows, once; a store that refuses
fails alone and succeeds on retry."""

from __future__ import annotations

import io
import json
import logging
import uuid
import zipfile

import pytest
import sqlalchemy as sa
from django.db import connection

from dsar import archive as archives
from dsar import services
from dsar.models import DataSubjectRequest, RequestStep
from dsar.store_actions import store_except, store_retry
from stores.connection import store_connection
from stores.demo import TABLES
from stores.models import StoreColumn, StoreDataset, StoreTask
from stores.services import store_check, store_task_run
from tests.dsar.helpers import drive
from tests.factories import make_subject
from tests.stores.conftest import CANARY, OFFICER, PEOPLE, SHIPMENT_TABLES

pytestmark = pytest.mark.django_db
ALICE = PEOPLE[0]["email"]


def _rows(store, table: str) -> dict:
    with store_connection(store) as conn:
        t = sa.table(f"{store.table_prefix}{table}", sa.column("id"))
        result = conn.execute(sa.select(sa.text("*")).select_from(t)).mappings().all()
    return {row["id"]: dict(row) for row in result}


def _shipments(store) -> dict:
    """The tests' shipment tables, rows keyed by primary key."""
    out = {}
    with store_connection(store) as conn:
        for name, key in (("shipments", ("order_id", "shipment_no")), ("delivery_events", ("id",))):
            t = sa.table(f"{store.table_prefix}{name}")
            rows = conn.execute(sa.select(sa.text("*")).select_from(t)).mappings().all()
            out[name] = {
                (row[key[0]] if len(key) == 1 else tuple(row[k] for k in key)): dict(row)
                for row in rows
            }
    return out


def _snapshot(store) -> dict:
    return {table: _rows(store, table) for table in TABLES}


def _column(store, table: str, name: str) -> StoreColumn:
    return StoreColumn.objects.get(
        dataset__store=store, dataset__table=f"{store.table_prefix}{table}", name=name
    )


def _request(kind: str, subject) -> DataSubjectRequest:
    dsr, _ = services.request_create(
        kind=kind, channel="admin", actor=OFFICER, subject=subject, verification="officer"
    )
    if dsr.status == DataSubjectRequest.Status.AWAITING_APPROVAL:
        dsr = services.request_approve(request=dsr, actor=OFFICER)
    return dsr


def _hub_text() -> str:
    """Every row of every hub table, as text (to look for a value that must not be there)."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - table names from introspection
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


def test_discovery_classifies_the_shop_and_keeps_no_sampled_value(shop, caplog, settings):
    caplog.set_level(logging.DEBUG)
    from stores.services import store_discover

    summary = store_discover(store=shop, actor=OFFICER)

    assert summary["tables"] == len(TABLES) + len(SHIPMENT_TABLES)
    email = _column(shop, "customers", "email")
    assert (email.category, email.identity_kind, email.strategy) == ("contact", "email", "hash")
    assert email.sampled == 3
    assert email.matched == 3
    assert email.confidence >= 0.9
    assert _column(shop, "customers", "customer_no").identity_kind == "customer_id"
    assert _column(shop, "customers", "preferences").kind == "json"
    assert _column(shop, "customers", "birth_date").kind == "date"
    assert _column(shop, "customers", "loyalty_points").strategy == "mask"  # NOT NULL number
    assert _column(shop, "customers", "last_name").strategy == "set_null"
    assert _column(shop, "payments", "iban").category == "financial"
    assert _column(shop, "page_views", "ip_address").strategy == "delete_row"
    assert _column(shop, "orders", "customer_id").category == ""  # a link, not personal
    assert _column(shop, "products", "title").category == ""
    fks = StoreDataset.objects.get(store=shop, table=f"{shop.table_prefix}orders").foreign_keys
    assert {
        "columns": ["customer_id"],
        "table": f"{shop.table_prefix}customers",
        "references": ["id"],
    } in fks
    events = StoreDataset.objects.get(store=shop, table=f"{shop.table_prefix}delivery_events")
    assert events.foreign_keys == [
        {
            "columns": ["order_id", "shipment_no"],
            "table": f"{shop.table_prefix}shipments",
            "references": ["order_id", "shipment_no"],
        }
    ]
    assert _column(shop, "delivery_events", "ip_address").strategy == "delete_row"
    assert _column(shop, "delivery_events", "order_id").category == ""  # part of a link

    # The canary planted in a message, an address and a name is nowhere in the hub.
    assert CANARY not in _hub_text()
    assert CANARY not in caplog.text
    for log in settings.VAR_DIR.glob("**/*.log"):
        assert CANARY not in log.read_text(errors="replace")


def test_a_later_discovery_flags_new_personal_columns_on_the_workspace(mapped_shop):
    from audit.models import AuditAlert
    from stores.services import store_discover

    with store_connection(mapped_shop, write=True) as conn:
        conn.exec_driver_sql(
            f"ALTER TABLE {mapped_shop.table_prefix}customers ADD mobile_phone VARCHAR(30)"
        )
    store_discover(store=mapped_shop, actor=OFFICER)

    column = _column(mapped_shop, "customers", "mobile_phone")
    assert column.is_new
    assert column.category == "contact"
    assert column.strategy == "keep"
    alert = AuditAlert.objects.get(kind="stores.new_columns")
    assert "customers.mobile_phone" in alert.message


def test_approved_datasets_appear_in_the_data_map_and_the_art30_record(shop, target, regimes):
    if target.dialect != "sqlite":
        pytest.skip("hub-side behaviour, the same on every dialect")
    from consent.art30 import art30_csv, art30_record, data_map
    from consent.models import ProcessingActivity, Purpose
    from stores.services import store_discover
    from tests.stores.conftest import approve_all

    orders = ProcessingActivity.objects.create(
        name="Web shop orders",
        purpose=Purpose.objects.get(slug="marketing_email"),
        lawful_basis="contract",
        data_categories=["contact"],
    )
    shop.activities.set([orders])
    store_discover(store=shop, actor=OFFICER)
    approve_all(shop)

    shop.refresh_from_db()
    row = next(r for r in data_map() if r["system"] == shop.system.name)
    assert {"contact", "financial", "identity", "behavioral"} <= set(row["data_categories"])
    assert f"{shop.table_prefix}payments: financial" in shop.system.description
    p = shop.table_prefix
    assert {"dataset": f"{p}payments", "categories": ["financial"]} in row["datasets"]
    assert f"{p}products" not in {d["dataset"] for d in row["datasets"]}  # ignored
    record = next(r for r in art30_record() if r["activity"] == "Web shop orders")
    assert shop.system.name in record["systems"]
    # The record lists each approved dataset of the store with its own categories.
    customers = next(d for d in record["datasets"] if d["dataset"] == f"{p}customers")
    assert customers["system"] == shop.system.name
    assert {"contact", "identity"} <= set(customers["categories"])
    assert {
        "dataset": f"{p}page_views",
        "system": shop.system.name,
        "categories": ["behavioral"],
    } in record["datasets"]
    csv_text = art30_csv(art30_record())
    assert f"{shop.system.name} / {p}payments (financial)" in csv_text


def test_access_exports_exactly_the_subjects_rows(mapped_shop):
    subject = make_subject(region="EU", email=ALICE)
    dsr = drive(_request("access", subject))

    assert dsr.status == DataSubjectRequest.Status.COMPLETED
    content = archives.archive_open(dsr.archive)
    zf = zipfile.ZipFile(io.BytesIO(content))
    data = json.loads(zf.read("data.json"))
    tables = data["stores"]["Legacy shop"]
    p = mapped_shop.table_prefix
    counts = {name.removeprefix(p): len(rows) for name, rows in tables.items()}
    assert counts == {
        "customers": 1,
        "addresses": 2,
        "orders": 2,
        "order_items": 4,
        "payments": 2,
        "page_views": 3,
        "support_tickets": 1,
        "newsletter_subscriptions": 1,
        "shipments": 2,
        "delivery_events": 4,  # reached only through their composite foreign key
    }
    customer = tables[f"{p}customers"][0]
    assert customer["email"] == ALICE
    assert customer["preferences"] == {"newsletter": True, "topics": ["garden", "kitchen"]}
    assert customer["birth_date"].startswith("19")
    assert "bob.other" not in json.dumps(data)
    assert CANARY not in json.dumps(data)
    csv_text = zf.read(f"stores/Legacy_shop/{p}orders.csv").decode()
    assert csv_text.count("\n") == 3  # header and two orders
    # The archive is the only copy: the task's encrypted export is destroyed.
    task = StoreTask.objects.get(request_id=dsr.pk)
    assert task.status == "done"
    assert task.result["rows_found"] == 22
    assert sorted((e["order_id"], e["shipment_no"]) for e in tables[f"{p}delivery_events"]) == [
        (2, 1),
        (2, 1),
        (3, 1),
        (3, 1),
    ]


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is no JSON")


def test_numbers_json_has_no_literal_for_are_exported_as_text(mapped_shop, target):
    """NaN in a JSON column (Python's json.dumps writes it), an infinite number: data.json
    held them as the bare literals NaN and Infinity, which no strict JSON parser reads (and an
    infinite decimal failed the step). SQLite keeps any of them in any column."""
    if target.dialect != "sqlite":
        pytest.skip("the server's JSON and numeric columns refuse these values")
    p = mapped_shop.table_prefix
    customers = sa.table(
        f"{p}customers", sa.column("preferences"), sa.column("loyalty_points"), sa.column("email")
    )
    with store_connection(mapped_shop, write=True) as conn:
        conn.execute(
            sa.update(customers)
            .where(customers.c.email == ALICE)
            .values(
                preferences='{"score": NaN, "cap": -Infinity}',
                loyalty_points=sa.literal_column("9e999"),
            )
        )
    subject = make_subject(region="EU", email=ALICE)
    dsr = drive(_request("access", subject))

    assert dsr.status == DataSubjectRequest.Status.COMPLETED
    zf = zipfile.ZipFile(io.BytesIO(archives.archive_open(dsr.archive)))
    data = json.loads(zf.read("data.json"), parse_constant=_no_constant)
    customer = data["stores"]["Legacy shop"][f"{p}customers"][0]
    assert customer["preferences"] == {"score": "NaN", "cap": "-Infinity"}
    assert customer["loyalty_points"] == "Infinity"


def test_erasure_changes_exactly_the_subjects_rows_and_a_rerun_changes_nothing(mapped_shop):
    subject = make_subject(region="EU", email=ALICE)
    before = _snapshot(mapped_shop)
    shipments_before = _shipments(mapped_shop)
    dsr = drive(_request("erasure", subject))
    assert dsr.status == DataSubjectRequest.Status.COMPLETED
    after = _snapshot(mapped_shop)
    shipments_after = _shipments(mapped_shop)

    alice = before["customers"][1]
    erased = after["customers"][1]
    assert erased["email"].startswith("h:")
    assert erased["customer_no"].startswith("h:")
    assert erased["first_name"] == "[erased]"
    assert erased["last_name"] is None
    assert erased["birth_date"] is None
    assert erased["loyalty_points"] == 0
    prefs = erased["preferences"]
    assert (json.loads(prefs) if isinstance(prefs, str) else prefs) == {}
    assert erased["created_at"] == alice["created_at"]  # not personal: kept
    assert after["addresses"][2]["country"] == "xx"  # NOT NULL CHAR(2): a short mask
    assert after["payments"][2]["amount"] == 0
    assert after["payments"][2]["iban"] is None
    assert [r for r in after["page_views"].values() if r["customer_id"] == 1] == []
    assert after["orders"][2]["gift_note"] is None
    assert after["orders"][3]["gift_note"] is None
    # Everyone else is untouched, row for row.
    for table in TABLES:
        others_before = {k: v for k, v in before[table].items() if not _alices(table, v)}
        others_after = {k: v for k, v in after[table].items() if not _alices(table, v)}
        assert others_after == others_before, table
    # Through the composite foreign key: Alice's delivery events deleted, her shipments'
    # notes cleared; everyone else's untouched.
    events_before, events_after = (
        shipments_before["delivery_events"],
        shipments_after["delivery_events"],
    )
    assert {k for k, v in events_before.items() if v["order_id"] in (2, 3)} == {4, 5, 6, 7}
    assert events_after == {k: v for k, v in events_before.items() if v["order_id"] not in (2, 3)}
    notes = {k: v["carrier_note"] for k, v in shipments_after["shipments"].items()}
    assert notes[(2, 1)] is None
    assert notes[(3, 1)] is None
    assert {k: v for k, v in shipments_after["shipments"].items() if k[0] not in (2, 3)} == {
        k: v for k, v in shipments_before["shipments"].items() if k[0] not in (2, 3)
    }

    # The same work run again with the same identifiers (as after a crash between the
    # store's commit and the hub's record of it) changes nothing more.
    task = StoreTask.objects.create(
        request_id=uuid.uuid4(),
        request_reference="RERUN",
        region="EU",
        kind="erasure",
        store=mapped_shop,
        identifiers=[{"kind": "email", "value": ALICE}, {"kind": "customer_id", "value": "C-2001"}],
    )
    assert store_task_run(task=task)
    assert _snapshot(mapped_shop) == after
    assert _shipments(mapped_shop) == shipments_after


def _alices(table: str, row: dict) -> bool:
    """Rows of customer 1 (Alice) in the shop's id scheme (stores/demo.py)."""
    if table == "customers":
        return row["id"] == 1
    if table in ("addresses", "page_views", "support_tickets"):
        return row["customer_id"] == 1
    if table == "orders":
        return row["customer_id"] == 1
    if table == "order_items":
        return row["order_id"] in (2, 3)
    if table == "payments":
        return row["order_id"] in (2, 3)
    if table == "newsletter_subscriptions":
        return row["id"] == 1
    return False


def test_a_refusing_store_fails_alone_and_succeeds_on_retry(mapped_shop, target, tmp_path):
    from stores.demo import shop_create, shop_drop
    from stores.services import store_discover
    from tests.stores.conftest import approve_all

    # A second store, down when the request runs (nothing listens / the file is gone).
    prefix = f"{mapped_shop.table_prefix}b"
    second = target.store("Old CRM", prefix)
    with store_connection(second, write=True) as conn:
        shop_create(conn, PEOPLE[:2], prefix=prefix)
    store_discover(store=second, actor=OFFICER)
    approve_all(second)
    working = {"port": second.port, "database": second.database}
    if target.dialect == "sqlite":
        second.database = str(tmp_path / "moved.db")
    else:
        second.port = 1
    second.save()
    assert "store unreachable" in store_check(store=second, actor=OFFICER)

    try:
        subject = make_subject(region="EU", email=ALICE)
        dsr = drive(_request("erasure", subject))
        assert dsr.status == DataSubjectRequest.Status.IN_PROGRESS
        tasks = {t.store.name: t for t in StoreTask.objects.filter(request_id=dsr.pk)}
        assert tasks["Legacy shop"].status == "done"
        assert tasks["Old CRM"].status == "failed"
        assert "store unreachable" in tasks["Old CRM"].last_error
        step = RequestStep.objects.get(request=dsr, name="stores")
        assert step.status == "pending"
        assert "StoresPending" in step.error
        assert dsr.timeline.filter(message__startswith="store Old CRM failed").exists()
        assert _rows(mapped_shop, "customers")[1]["email"].startswith("h:")

        # The officer fixes the connection and retries that store alone.
        for field, value in working.items():
            setattr(second, field, value)
        second.save()
        store_retry(task=tasks["Old CRM"], actor=OFFICER)
        RequestStep.objects.filter(pk=step.pk).update(lease_until=None)
        dsr = drive(dsr)
        assert dsr.status == DataSubjectRequest.Status.COMPLETED
        assert StoreTask.objects.get(pk=tasks["Old CRM"].pk).status == "done"
        assert _rows(second, "customers")[1]["email"].startswith("h:")
        assert _rows(second, "customers")[2]["email"] == PEOPLE[1]["email"]
    finally:
        with store_connection(second, write=True) as conn:
            shop_drop(conn, prefix)


def test_a_store_closed_with_an_exception_lets_the_request_complete(mapped_shop, target):
    if target.dialect != "sqlite":
        pytest.skip("engine behaviour, the same on every dialect")
    path = mapped_shop.database
    mapped_shop.database = path + ".gone"
    mapped_shop.save()
    subject = make_subject(region="EU", email=ALICE)
    dsr = drive(_request("access", subject))
    task = StoreTask.objects.get(request_id=dsr.pk)
    assert task.status == "failed"

    store_except(task=task, actor=OFFICER, reason="database decommissioned in 2023")
    RequestStep.objects.filter(request=dsr, name="stores").update(lease_until=None)
    dsr = drive(dsr)
    assert dsr.status == DataSubjectRequest.Status.COMPLETED
    assert StoreTask.objects.get(pk=task.pk).status == "excepted"
    assert dsr.timeline.filter(message__contains="closed with an exception").exists()
    mapped_shop.database = path
    from profiles.models import SubjectKey

    # Closing the request purged its contact data, and the identifiers the store task kept.
    assert not SubjectKey.objects.filter(subject_id=task.pk).exists()


def test_a_rectification_lists_the_subjects_rows_per_store_until_an_officer_corrects_them(
    mapped_shop, target
):
    if target.dialect != "sqlite":
        pytest.skip("hub-side behaviour, the same on every dialect")
    from dsar.store_actions import store_corrected

    subject = make_subject(region="EU", email=ALICE)
    dsr, _ = services.request_create(
        kind="rectification",
        channel="admin",
        actor=OFFICER,
        subject=subject,
        verification="officer",
        details={"corrections": {"last_name": "Subject-Meyer"}},
    )
    if dsr.status == DataSubjectRequest.Status.AWAITING_APPROVAL:
        dsr = services.request_approve(request=dsr, actor=OFFICER)
    before = _snapshot(mapped_shop)
    dsr = drive(dsr)

    assert [s.name for s in dsr.steps.order_by("position")][:3] == ["locate", "rectify", "stores"]
    assert dsr.status == DataSubjectRequest.Status.AWAITING_EXTERNAL
    task = StoreTask.objects.get(request_id=dsr.pk)
    assert task.status == "manual"
    where = task.result["correct_by_hand"]
    p = mapped_shop.table_prefix
    assert where[f"{p}customers"]["rows"] == 1
    assert {"email", "last_name", "phone"} <= set(where[f"{p}customers"]["columns"])
    assert where[f"{p}delivery_events"]["rows"] == 4
    assert ALICE not in json.dumps(task.result)  # where the data is, never the data
    assert _snapshot(mapped_shop) == before  # the hub changes nothing in the store itself
    assert dsr.timeline.filter(message__contains="corrects them by hand").exists()

    store_corrected(task=task, actor=OFFICER, evidence="fixed in the shop's back office")
    dsr = drive(dsr)
    assert dsr.status == DataSubjectRequest.Status.COMPLETED
    assert StoreTask.objects.get(pk=task.pk).status == "done"
    assert dsr.timeline.filter(message__contains="corrected by hand").exists()


@pytest.mark.parametrize("kind", ["opt_out", "restriction"])
def test_an_opt_out_or_restriction_records_that_stores_need_no_change(mapped_shop, target, kind):
    if target.dialect != "sqlite":
        pytest.skip("hub-side behaviour, the same on every dialect")
    subject = make_subject(region="US-CA" if kind == "opt_out" else "EU", email=ALICE)
    before = _snapshot(mapped_shop)
    dsr = drive(_request(kind, subject))

    assert dsr.status == DataSubjectRequest.Status.COMPLETED
    step = RequestStep.objects.get(request=dsr, name="stores")
    assert step.result["store_action"] == "none"
    assert step.result["stores"] == ["Legacy shop"]
    assert dsr.timeline.filter(message__contains="needs no change in connected stores").exists()
    assert not StoreTask.objects.filter(request_id=dsr.pk).exists()
    assert _snapshot(mapped_shop) == before
