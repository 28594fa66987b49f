"""SQLAlchemy engines for a connected store, with its timeout, and PII-free descriptions of the
errors a store raises (a database's own message may quote a value: it is never kept)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from stores.models import ConnectedStore

DRIVERS = {
    ConnectedStore.Dialect.POSTGRESQL: "postgresql+psycopg",
    ConnectedStore.Dialect.MYSQL: "mysql+pymysql",
}


def store_url(store: ConnectedStore, *, write: bool) -> sa.URL:
    if store.dialect == ConnectedStore.Dialect.SQLITE:
        # mode=ro/rw: a missing file is an error, never an empty new database. The path is
        # percent-encoded: a "?" or "#" in it would otherwise start the URI's own parameters
        # ("shop.db?mode=rwc#" created any file the hub may write, and read it writable).
        mode = "rw" if write else "ro"
        return sa.URL.create(
            "sqlite", database=f"file:{quote(store.database)}?mode={mode}", query={"uri": "true"}
        )
    user, password = (
        (store.write_user, store.write_password)
        if write
        else (store.read_user, store.read_password)
    )
    return sa.URL.create(
        DRIVERS[store.dialect],
        username=user or None,
        password=password or None,
        host=store.host or "127.0.0.1",
        port=store.port,
        database=store.database,
    )


def _connect_args(store: ConnectedStore) -> dict[str, Any]:
    seconds = max(1, store.timeout_seconds)
    if store.dialect == ConnectedStore.Dialect.POSTGRESQL:
        return {
            "connect_timeout": seconds,
            "options": f"-c statement_timeout={seconds * 1000} -c lock_timeout={seconds * 1000}",
        }
    if store.dialect == ConnectedStore.Dialect.MYSQL:
        return {
            "connect_timeout": seconds,
            "read_timeout": seconds,
            "write_timeout": seconds,
            "init_command": f"SET SESSION innodb_lock_wait_timeout = {seconds}",
        }
    return {"timeout": seconds, "check_same_thread": False}


_ENGINES: dict[tuple[Any, ...], Engine] = {}
# Per engine whose dialect has met its server once (version, quoting mode: a driver connection
# opened beside the pool relies on it for the statements it writes), the driver's connect
# arguments, worked out once.
_READY: dict[int, tuple[Any, dict[str, Any]]] = {}


def store_engine(store: ConnectedStore, *, write: bool = False) -> Engine:
    """A pool-less engine (a worker holds no connection to a store between requests), kept per
    store and connection settings: building an engine and learning its server's dialect costs
    far more than the few statements of one subject."""
    user, password = (
        (store.write_user, store.write_password)
        if write
        else (store.read_user, store.read_password)
    )
    key = (
        store.pk,
        write,
        store.dialect,
        store.host,
        store.port,
        store.database,
        user,
        password,
        store.timeout_seconds,
    )
    engine = _ENGINES.get(key)
    if engine is None:
        for old in [k for k in _ENGINES if k[:2] == (store.pk, write)]:
            stale = _ENGINES.pop(old)
            _READY.pop(id(stale), None)
            stale.dispose()
        engine = sa.create_engine(
            store_url(store, write=write),
            poolclass=NullPool,
            # A returned connection is closed at once (which ends any transaction): no reset.
            pool_reset_on_return=None,
            connect_args=_connect_args(store),
        )
        _ENGINES[key] = engine
    return engine


@dataclass(slots=True)
class DriverConnection:
    """A store's DB-API connection and the dialect its statements are written for: what the
    row finder and eraser use (`stores.rows`), and all they use."""

    connection: Any
    dialect: sa.Dialect


@contextmanager
def store_session(store: ConnectedStore, *, write: bool = False) -> Iterator[DriverConnection]:
    """One subject's work in a store: a driver connection opened with the engine's URL and
    connect arguments (so the same timeouts), without a pool checkout, connection events or a
    SQLAlchemy `Connection` around it, which cost more per subject than SQLite's statements do.
    The dialect's on-connect hooks are skipped: they add SQL functions (SQLite), a notice logger
    (psycopg: a notice may quote a value) and a `SET NAMES` round trip (MySQL) that the rows'
    statements do not need. With `write`, the work is one transaction committed on success and
    rolled back on any error; the connection is always closed (no connection kept between
    requests)."""
    engine = store_engine(store, write=write)
    dialect = engine.dialect
    args = _READY.get(id(engine))
    if args is None:
        with engine.connect():  # the dialect learns its server once per engine
            cargs, cparams = dialect.create_connect_args(engine.url)
            args = _READY[id(engine)] = (cargs, {**cparams, **_connect_args(store)})
    dbapi = dialect.connect(*args[0], **args[1])
    try:
        if write and store.dialect == ConnectedStore.Dialect.SQLITE:
            # Outside any transaction (a no-op inside one); DML then opens it implicitly.
            dbapi.execute("PRAGMA foreign_keys = ON")
        yield DriverConnection(dbapi, dialect)
        if write:
            dbapi.commit()
    except BaseException:
        with suppress(Exception):  # a connection the store dropped cannot roll back
            dbapi.rollback()
        raise
    finally:
        dbapi.close()


@contextmanager
def store_connection(store: ConnectedStore, *, write: bool = False) -> Iterator[Connection]:
    """A connection; with `write`, inside one transaction committed on success."""
    engine = store_engine(store, write=write)
    if write:
        with engine.begin() as conn:
            if store.dialect == ConnectedStore.Dialect.SQLITE:
                conn.exec_driver_sql("PRAGMA foreign_keys = ON")
            yield conn
    else:
        with engine.connect() as conn:
            yield conn


_KINDS = [
    (("timeout", "timed out", "canceling statement", "lock wait", "database is locked"), "timeout"),
    (
        ("refused", "could not connect", "can't connect", "unable to open", "no such host"),
        "store unreachable",
    ),
    (("authentication", "access denied", "password"), "credentials refused"),
    (("readonly", "read-only", "permission denied", "command denied"), "write refused"),
]


def error_describe(exc: BaseException) -> str:
    """What went wrong, in words an officer can act on, without the database's message (it
    may quote the row that broke a constraint)."""
    name = type(exc).__name__
    text = str(exc).lower()
    # SQLAlchemy's or the driver's own (the rows' statements run on the driver's cursor).
    if any(c.__name__ == "IntegrityError" for c in type(exc).__mro__):
        return "constraint error (IntegrityError)"
    for needles, label in _KINDS:
        if any(n in text for n in needles):
            return f"{label} ({name})"
    return name
