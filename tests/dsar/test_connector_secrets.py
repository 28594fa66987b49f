"""Connected systems prove their callbacks with a shared secret that is generated, never empty,
shown once and rotated by an officer."""

import hashlib
import hmac
import json
import time

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.actors import Actor
from audit.models import AuditEvent
from core import webhooks
from dsar import services
from dsar.models import SystemConnector, SystemTask
from profiles.models import System
from tests.factories import make_staff, make_subject

SYSTEM = Actor.system("tests")
BODY = json.dumps({"status": "done", "evidence": "deleted"}).encode()


def _manual_task():
    """As the demo data sets systems up: a manual connector, no secret given."""
    dsr, _ = services.request_create(
        kind="access",
        channel="api",
        actor=SYSTEM,
        subject=make_subject(region="EU"),
        verification="service",
    )
    connector = SystemConnector.objects.create(
        system=System.objects.create(name="Helpdesk"), mode=SystemConnector.Mode.MANUAL
    )
    return SystemTask.objects.create(request=dsr, connector=connector)


def _callback(api, task, secret: str):
    """Signed as any client would sign, without the hub's helper (which refuses empty keys)."""
    ts = int(time.time())
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + BODY, hashlib.sha256).hexdigest()
    return api.post(
        f"/api/v1/dsar/callbacks/{task.pk}/",
        BODY,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=f"t={ts},v1={mac}",
    )


def test_a_connected_system_gets_a_generated_secret():
    task = _manual_task()
    other = SystemConnector.objects.create(system=System.objects.create(name="Shop"))
    assert len(task.connector.secret) >= 40
    assert task.connector.secret != other.secret


def test_a_callback_signed_with_an_empty_key_is_refused(api):
    task = _manual_task()
    response = _callback(api, task, "")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    task.refresh_from_db()
    assert task.status == "pending"


def test_a_callback_signed_with_the_generated_secret_is_accepted(api):
    task = _manual_task()
    assert _callback(api, task, task.connector.secret).status_code == 200
    task.refresh_from_db()
    assert task.status == "done"


def test_the_signing_helper_refuses_an_empty_key():
    with pytest.raises(ValueError, match="empty secret"):
        webhooks.sign("", BODY)
    assert not webhooks.verify("", BODY, "t=1,v1=00")
    delivery = webhooks.deliver("http://127.0.0.1:9/", {"a": 1}, secret="")
    assert not delivery.ok
    assert delivery.error == "no signing secret"


def test_the_database_refuses_an_empty_secret():
    from django.db import IntegrityError, transaction

    connector = SystemConnector.objects.create(system=System.objects.create(name="CRM"))
    with pytest.raises(IntegrityError), transaction.atomic():
        SystemConnector.objects.filter(pk=connector.pk).update(secret="")


def test_an_officer_adds_a_system_and_sees_its_secret_once(client):
    client.force_login(make_staff("DPO"))
    system = System.objects.create(name="Newsletter tool")
    response = client.post(
        "/admin/dsar/systemconnector/add/",
        {
            "system": system.pk,
            "mode": "webhook",
            "webhook_url": "https://newsletter.example/dsar",
            "handles": "[]",
            "instructions": "",
            "timeout_seconds": 10,
            "callback_timeout_hours": 72,
            "active": "on",
        },
        follow=True,
    )
    connector = SystemConnector.objects.get(system=system)
    assert connector.secret
    assert connector.secret in response.content.decode()
    again = client.get(f"/admin/dsar/systemconnector/{connector.pk}/change/").content.decode()
    assert connector.secret not in again


def test_an_officer_rotates_a_secret_and_the_old_one_stops_working(client, api):
    task = _manual_task()
    old = task.connector.secret
    # An officer of every region: a connector serves every region's requests.
    client.force_login(make_staff("Privacy officer"))
    response = client.post(
        "/admin/dsar/systemconnector/",
        {"action": "rotate_secret", "_selected_action": [task.connector.pk], "confirmed": "yes"},
        follow=True,
    )
    task.connector.refresh_from_db()
    new = task.connector.secret
    assert new != old
    assert new in response.content.decode()
    assert AuditEvent.objects.filter(action="dsar.connector.rotate_secret").count() == 1
    assert old not in str(list(AuditEvent.objects.values()))
    assert _callback(api, task, old).status_code == 401
    assert _callback(api, task, new).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_fills_secrets_left_empty():
    executor = MigrationExecutor(connection)
    before = [("dsar", "0001_initial")]
    after = [("dsar", "0002_connector_secret_never_empty")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    system = old_apps.get_model("profiles", "System").objects.create(name="Legacy CRM")
    old_apps.get_model("dsar", "SystemConnector").objects.create(system_id=system.pk, secret="")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert SystemConnector.objects.get(system_id=system.pk).secret != ""
