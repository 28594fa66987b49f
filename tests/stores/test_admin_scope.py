"""A connected store holds people of every region, and its settings decide where every region's
requests send identifiers and which rows an erasure changes: officers limited to some regions
see stores but do not change them. A stored password is never sent to a server other than the
one it was typed for: repointing a store (host, port, database, user) needs it typed again."""

from __future__ import annotations

import socket
import sqlite3
import struct
import threading

import pytest
from django.utils import timezone

from access.roles import DPO, PRIVACY_OFFICER
from stores.models import ConnectedStore, StoreColumn, StoreDataset
from tests.factories import make_staff, signed_in

pytestmark = pytest.mark.django_db

SECRET = "s3cret-read-Zq81"


@pytest.fixture
def store(roles, tmp_path):
    path = tmp_path / "shop.db"
    sqlite3.connect(path).close()
    return ConnectedStore.objects.create(
        name="Shop", dialect="sqlite", database=str(path), timeout_seconds=5
    )


def _form(store: ConnectedStore, **over) -> dict:
    return {
        "name": store.name,
        "dialect": store.dialect,
        "host": store.host,
        "port": store.port or "",
        "database": store.database,
        "read_user": store.read_user,
        "read_password": "",
        "write_user": store.write_user,
        "write_password": "",
        "timeout_seconds": store.timeout_seconds,
        "table_prefix": store.table_prefix,
        "active": "on",
        **over,
    }


@pytest.mark.parametrize("role", [PRIVACY_OFFICER, DPO])
def test_an_officer_limited_to_some_regions_sees_stores_but_cannot_change_them(
    store, tmp_path, role
):
    eu = signed_in(make_staff(role, regions=["EU"]))
    assert eu.get("/admin/stores/connectedstore/").status_code == 200
    assert eu.get(f"/admin/stores/connectedstore/{store.pk}/change/").status_code == 200

    other = tmp_path / "hub.db"
    sqlite3.connect(other).close()
    changed = eu.post(
        f"/admin/stores/connectedstore/{store.pk}/change/",
        _form(store, database=str(other), _check="1"),
    )
    assert changed.status_code == 403
    store.refresh_from_db()
    assert store.database != str(other)
    assert store.last_check_at is None  # the check did not run either

    added = eu.post(
        "/admin/stores/connectedstore/add/",
        _form(store, name="Mine", database=str(other)),
    )
    assert added.status_code == 403
    assert not ConnectedStore.objects.filter(name="Mine").exists()

    deleted = eu.post(f"/admin/stores/connectedstore/{store.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert ConnectedStore.objects.filter(pk=store.pk).exists()

    # Discovery and the connection test are actions needing the change permission.
    r = eu.post(
        "/admin/stores/connectedstore/",
        {"action": "discover", "_selected_action": [store.pk]},
    )
    store.refresh_from_db()
    assert store.last_discovery_at is None
    assert r.status_code in (200, 302, 403)


def test_an_officer_limited_to_some_regions_cannot_approve_or_restrategise_a_dataset(store):
    dataset = StoreDataset.objects.create(
        store=store, table="customers", primary_key=["id"], discovered_at=timezone.now()
    )
    column = StoreColumn.objects.create(
        dataset=dataset, name="email", kind="text", category="contact", strategy="keep"
    )
    eu = signed_in(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    assert eu.get(f"/admin/stores/storedataset/{dataset.pk}/change/").status_code == 200
    r = eu.post(
        "/admin/stores/storedataset/", {"action": "approve", "_selected_action": [dataset.pk]}
    )
    dataset.refresh_from_db()
    assert dataset.status == "proposed"
    assert r.status_code in (200, 302, 403)
    changed = eu.post(
        f"/admin/stores/storedataset/{dataset.pk}/change/",
        {
            "columns-TOTAL_FORMS": "1",
            "columns-INITIAL_FORMS": "1",
            "columns-0-id": column.pk,
            "columns-0-dataset": dataset.pk,
            "columns-0-kind": "text",
            "columns-0-category": "contact",
            "columns-0-strategy": "delete_row",
        },
    )
    assert changed.status_code == 403
    column.refresh_from_db()
    assert column.strategy == "keep"


def test_an_officer_of_every_region_changes_a_store(store, tmp_path):
    other = tmp_path / "moved.db"
    sqlite3.connect(other).close()
    officer = signed_in(make_staff(PRIVACY_OFFICER))
    r = officer.post(
        f"/admin/stores/connectedstore/{store.pk}/change/", _form(store, database=str(other))
    )
    assert r.status_code == 302, r.content
    store.refresh_from_db()
    assert store.database == str(other)


class _PasswordCatcher:
    """A server on this machine speaking just enough of PostgreSQL's protocol to ask the
    client for its password in clear, as a server someone set up to collect it would."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            while True:
                conn, _ = self.sock.accept()
                self.connections += 1
                with conn:
                    conn.settimeout(5)
                    self._one(conn)
        except OSError:
            return

    @staticmethod
    def _read(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def _one(self, conn: socket.socket) -> None:
        try:
            while True:  # SSL or GSS encryption requests are refused, then the startup
                (length,) = struct.unpack("!i", self._read(conn, 4))
                body = self._read(conn, length - 4)
                if struct.unpack("!i", body[:4])[0] in (80877103, 80877104):
                    conn.sendall(b"N")
                    continue
                break
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            kind = self._read(conn, 1)
            (length,) = struct.unpack("!i", self._read(conn, 4))
            if kind == b"p":
                self.received.append(self._read(conn, length - 4).rstrip(b"\0"))
        except OSError:
            return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def catcher():
    server = _PasswordCatcher()
    yield server
    server.close()


def _warehouse() -> ConnectedStore:
    """A PostgreSQL store with a saved password."""
    return ConnectedStore.objects.create(
        name="Warehouse",
        dialect="postgresql",
        host="db.internal.example",
        port=5432,
        database="warehouse",
        read_user="reader",
        read_password=SECRET,
        timeout_seconds=3,
    )


def test_a_stored_password_is_not_sent_to_a_server_the_store_was_repointed_to(roles, catcher):
    """Any officer may change a store, none may read its password: repointing the store at a
    server of their own and pressing "Test connection" handed it the stored password."""
    store = _warehouse()
    officer = signed_in(make_staff(PRIVACY_OFFICER))
    r = officer.post(
        f"/admin/stores/connectedstore/{store.pk}/change/",
        _form(store, host="127.0.0.1", port=catcher.port, _check="1"),
        follow=True,
    )
    assert r.status_code == 200
    assert "type the password again" in r.content.decode()
    assert SECRET.encode() not in b"".join(catcher.received)
    assert catcher.connections == 0
    store.refresh_from_db()
    assert (store.host, store.port, store.read_password) == ("db.internal.example", 5432, SECRET)

    # A new user for the same server needs the password too; a password typed again is used.
    r = officer.post(
        f"/admin/stores/connectedstore/{store.pk}/change/",
        _form(store, read_user="someone-else"),
    )
    assert r.status_code == 200
    assert "type the password again" in r.content.decode()
    r = officer.post(
        f"/admin/stores/connectedstore/{store.pk}/change/",
        _form(store, host="127.0.0.1", port=catcher.port, read_password="typed-again", _check="1"),
        follow=True,
    )
    assert r.status_code == 200
    assert catcher.received == [b"typed-again"]


def test_an_unchanged_store_keeps_its_password(roles):
    store = _warehouse()
    officer = signed_in(make_staff(PRIVACY_OFFICER))
    r = officer.post(
        f"/admin/stores/connectedstore/{store.pk}/change/", _form(store, timeout_seconds=7)
    )
    assert r.status_code == 302, r.content
    store.refresh_from_db()
    assert (store.read_password, store.timeout_seconds) == (SECRET, 7)
