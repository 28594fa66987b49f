# ruff: noqa: S608 - the raw baseline is hand-written SQL with fixed table names
"""Access and erasure of one subject in a connected store holding ~1,000,000 rows across the
legacy-shop schema (stores/demo.py), as ratios to the same SELECT / UPDATE / DELETE statements
run raw through the DB-API driver with the subject's ids already known.

Both sides open a fresh driver connection per subject and close it after (the store path through
`store_session`, exactly as the pipeline does; an erasure also turns SQLite's foreign keys on,
as the pipeline must), so the connection work is the same on both sides. Erasures run in a transaction rolled back at the end, so every round works on
the same rows. Each round takes a new subject whose pages are first read once, untimed (else
the side that runs first pays the disk reads for both), then runs the store path and the raw
path in alternating order; each side reports its median.

Usage: uv run python bench/bench_stores.py [--rows 1000000] [--rounds 15]
       [--target sqlite|postgresql|mysql] [--database bench_stores] (PostgreSQL on 127.0.0.1
       as postgres, MySQL/MariaDB on 127.0.0.1:3306 as root; the database is created when
       missing, and the bench replaces the shop's tables in it)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import machine, setup_django, write_section

PEOPLE_PER_CHUNK = 4000
DATABASE = "bench_stores"
ROWS_PER_PERSON = 16


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--target", choices=["sqlite", "postgresql", "mysql"], default="sqlite")
    parser.add_argument("--database", default="bench_stores", help="PostgreSQL/MySQL database")
    args = parser.parse_args()
    global DATABASE
    DATABASE = args.database
    teardown = setup_django()
    try:
        run(args.rows, args.rounds, args.target)
    finally:
        teardown()


def _database_ensure(target: str) -> None:
    """Create the store's database on PostgreSQL or MySQL when it is missing (a fresh machine
    has only `test` and `postgres`)."""
    if target == "postgresql":
        import psycopg
        from psycopg import sql

        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
            conn.autocommit = True
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
            if found.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    elif target == "mysql":
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", user="root")
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{DATABASE.replace('`', '')}`")
        finally:
            conn.close()


def _store(target: str):
    import sqlite3

    from stores.models import ConnectedStore

    _database_ensure(target)
    if target == "sqlite":
        path = os.path.join(os.environ["CUSTODIA_VAR_DIR"], "store.sqlite3")
        sqlite3.connect(path).close()
        return ConnectedStore.objects.create(name="bench", dialect="sqlite", database=path)
    if target == "postgresql":
        return ConnectedStore.objects.create(
            name="bench", dialect="postgresql", host="127.0.0.1", port=5432,
            database=DATABASE, read_user="postgres", write_user="postgres",
        )  # fmt: skip
    return ConnectedStore.objects.create(
        name="bench", dialect="mysql", host="127.0.0.1", port=3306,
        database=DATABASE, read_user="root", write_user="root",
    )  # fmt: skip


def _fill(store, rows: int) -> int:
    from stores.connection import store_connection
    from stores.demo import PRODUCTS, shop_insert, shop_metadata, shop_rows

    people = max(1, rows // ROWS_PER_PERSON)
    md = shop_metadata()
    with store_connection(store, write=True) as conn:
        md.drop_all(conn, checkfirst=True)
        md.create_all(conn)
        conn.execute(md.tables["products"].insert(), PRODUCTS)
    total = 0
    for start in range(1, people + 1, PEOPLE_PER_CHUNK):
        chunk = [
            {
                "email": f"person{n}@example.com",
                "first_name": "Person",
                "last_name": f"N{n}",
                "customer_no": f"C-{n}",
            }
            for n in range(start, min(start + PEOPLE_PER_CHUNK, people + 1))
        ]
        with store_connection(store, write=True) as conn:
            total += sum(shop_insert(conn, shop_rows(chunk, start=start), md=md).values())
    return total + len(PRODUCTS)


def _raw_connect(store):
    if store.dialect == "sqlite":
        import sqlite3

        return sqlite3.connect(store.database), "?"
    if store.dialect == "postgresql":
        import psycopg

        return psycopg.connect(host="127.0.0.1", user="postgres", dbname=store.database), "%s"
    import pymysql

    return pymysql.connect(host="127.0.0.1", user="root", database=store.database), "%s"


def _raw_access(store, cid: int, email: str, customer_no: str) -> int:
    """The statements the store path issues for this subject, written by hand."""
    conn, p = _raw_connect(store)
    cur = conn.cursor()
    orders = [cid * 2, cid * 2 + 1]
    found = 0
    for sql, params in [
        (f"SELECT * FROM customers WHERE email IN ({p}) OR customer_no IN ({p})", (email, customer_no)),
        (f"SELECT * FROM newsletter_subscriptions WHERE email IN ({p})", (email,)),
        (f"SELECT * FROM addresses WHERE customer_id IN ({p})", (cid,)),
        (f"SELECT * FROM orders WHERE customer_id IN ({p})", (cid,)),
        (f"SELECT * FROM orders WHERE address_id IN ({p}, {p})", (cid * 2, cid * 2 + 1)),
        (f"SELECT * FROM page_views WHERE customer_id IN ({p})", (cid,)),
        (f"SELECT * FROM support_tickets WHERE customer_id IN ({p})", (cid,)),
        (f"SELECT * FROM order_items WHERE order_id IN ({p}, {p})", tuple(orders)),
        (f"SELECT * FROM payments WHERE order_id IN ({p}, {p})", tuple(orders)),
    ]:  # fmt: skip
        cur.execute(sql, params)
        found += len(cur.fetchall())
    conn.close()
    return found


def _raw_erase(store, cid: int, email: str, customer_no: str) -> None:
    conn, p = _raw_connect(store)
    cur = conn.cursor()
    orders = [cid * 2, cid * 2 + 1]
    _raw_access_rows(cur, p, cid, email, customer_no)
    cur.execute(
        f"UPDATE customers SET customer_no={p}, email={p}, first_name={p}, last_name=NULL, "
        f"phone=NULL, birth_date=NULL, preferences={p}, loyalty_points=0 WHERE id={p}",
        ("h:" + "0" * 16, "h:" + "0" * 64, "[erased]", "{}", cid),
    )
    cur.execute(
        f"UPDATE newsletter_subscriptions SET email={p} WHERE id={p}", ("h:" + "1" * 64, cid)
    )
    for aid in (cid * 2, cid * 2 + 1):
        cur.execute(
            f"UPDATE addresses SET street={p}, city={p}, postcode=NULL, country={p} WHERE id={p}",
            ("[erased]", "[erased]", "xx", aid),
        )
    for oid in orders:
        cur.execute(f"UPDATE orders SET total=0, gift_note=NULL WHERE id={p}", (oid,))
        cur.execute(f"UPDATE payments SET iban=NULL, amount=0 WHERE id={p}", (oid,))
        for item in (oid * 2, oid * 2 + 1):
            cur.execute(f"UPDATE order_items SET unit_price=0 WHERE id={p}", (item,))
    cur.execute(f"UPDATE support_tickets SET message=NULL WHERE id={p}", (cid,))
    for vid in (cid * 3, cid * 3 + 1, cid * 3 + 2):
        cur.execute(f"DELETE FROM page_views WHERE id={p}", (vid,))
    conn.rollback()
    conn.close()


def _raw_access_rows(cur, p: str, cid: int, email: str, customer_no: str) -> None:
    """An erasure first finds the rows it changes: the same SELECTs as an access."""
    orders = (cid * 2, cid * 2 + 1)
    for sql, params in [
        (f"SELECT * FROM customers WHERE email IN ({p}) OR customer_no IN ({p})", (email, customer_no)),
        (f"SELECT * FROM newsletter_subscriptions WHERE email IN ({p})", (email,)),
        (f"SELECT * FROM addresses WHERE customer_id IN ({p})", (cid,)),
        (f"SELECT * FROM orders WHERE customer_id IN ({p})", (cid,)),
        (f"SELECT * FROM orders WHERE address_id IN ({p}, {p})", (cid * 2, cid * 2 + 1)),
        (f"SELECT * FROM page_views WHERE customer_id IN ({p})", (cid,)),
        (f"SELECT * FROM support_tickets WHERE customer_id IN ({p})", (cid,)),
        (f"SELECT * FROM order_items WHERE order_id IN ({p}, {p})", orders),
        (f"SELECT * FROM payments WHERE order_id IN ({p}, {p})", orders),
    ]:  # fmt: skip
        cur.execute(sql, params)
        cur.fetchall()


def run(rows: int, rounds: int, target: str) -> None:
    from audit.actors import Actor
    from stores.connection import store_session
    from stores.models import StoreDataset
    from stores.rows import rows_erase, rows_export, rows_find
    from stores.selectors import store_plans
    from stores.services import dataset_approve, dataset_ignore, store_discover

    actor = Actor.system("bench")
    store = _store(target)
    started = time.perf_counter()
    total = _fill(store, rows)
    fill_seconds = time.perf_counter() - started
    store_discover(store=store, actor=actor)
    for dataset in StoreDataset.objects.filter(store=store):
        if dataset.table == "products":
            dataset_ignore(dataset=dataset, actor=actor)
        else:
            dataset_approve(dataset=dataset, actor=actor)
    plans = store_plans(store=store)
    people = total // ROWS_PER_PERSON
    key = store.hash_key

    def subject(i: int) -> tuple[int, str, str]:
        cid = 1 + (i * 7919) % people
        return cid, f"person{cid}@example.com", f"C-{cid}"

    def ours_access(i: int) -> int:
        _, email, number = subject(i)
        with store_session(store) as conn:
            found = rows_find(
                conn,
                plans,
                [{"kind": "email", "value": email}, {"kind": "customer_id", "value": number}],
            )
            rows_export(found, plans)
        return found.count()  # fmt: skip

    def ours_erase(i: int) -> None:
        _, email, number = subject(i)
        with store_session(store, write=True) as conn:
            found = rows_find(
                conn,
                plans,
                [{"kind": "email", "value": email}, {"kind": "customer_id", "value": number}],
            )
            rows_erase(conn, plans, found, key)
            conn.connection.rollback()  # the rows stay as they were for the next round

    assert ours_access(0) == 16
    assert _raw_access(store, *subject(0)) == 18  # two orders found twice, as ours does
    times: dict[str, list[float]] = {k: [] for k in ("access", "raw_access", "erase", "raw_erase")}
    for i in range(rounds):
        # Each round is a new subject: its pages are read once, untimed, so neither side pays
        # for the first touch; then the two sides run in alternating order.
        _raw_access(store, *subject(i))
        pairs = [
            (("access", lambda i=i: ours_access(i)), ("raw_access", lambda i=i: _raw_access(store, *subject(i)))),
            (("erase", lambda i=i: ours_erase(i)), ("raw_erase", lambda i=i: _raw_erase(store, *subject(i)))),
        ]  # fmt: skip
        for pair in pairs:
            for name, fn in pair if i % 2 else reversed(pair):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    access_ratio = med["access"] / med["raw_access"]
    erase_ratio = med["erase"] / med["raw_erase"]
    body = (
        f"Store on {target}, {total:,} rows across the legacy shop's 9 tables "
        f"(filled in {fill_seconds:.0f} s), one subject (16 rows in 8 tables) per round, "
        f"{rounds} rounds (a new subject each, read once untimed, sides in alternating order), "
        f"medians; {machine()}; load average {load}.\n\n"
        "| operation | store path | raw statements | ratio (goal ≤ 1.5x) |\n"
        "|---|---|---|---|\n"
        f"| access (find + export) | {med['access'] * 1000:.2f} ms | "
        f"{med['raw_access'] * 1000:.2f} ms | {access_ratio:.2f}x |\n"
        f"| erasure (find + strategies, one transaction) | {med['erase'] * 1000:.2f} ms | "
        f"{med['raw_erase'] * 1000:.2f} ms | {erase_ratio:.2f}x |\n\n"
        "The raw side runs the same statements (SELECTs of the rows found, then the UPDATEs and "
        "DELETEs) with the ids known; the store path also follows the foreign keys in Python, "
        "converts every value to its JSON-ready form (dates, decimals, JSON). Both sides open "
        "a fresh driver connection per subject (the store path with its engine's URL and "
        "timeouts but no pool checkout, connection events or SQLAlchemy `Connection`, which "
        "had cost about 0.1 ms per subject on SQLite and made the access ratio 1.9x).\n"
    )
    print(body)
    title = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}[target]
    heading = f"## Connected stores: one subject in a 1M-row store ({title})\n\n"
    write_section(f"stores-{target}", heading + body)


if __name__ == "__main__":
    main()
