"""Data-subject requests end to end on a real worker process: intake from the privacy-center
API, confirmation by the mailed code, approval, the pipeline on the worker, a connected system
played by a local HTTP server answering with signed callbacks to the live hub, and a worker
killed with SIGKILL in the middle of a request."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile

import pytest
from django.core import mail

from audit.models import AuditEvent
from consent.models import ConsentProperty
from dsar import archive as archives
from dsar import housekeeping
from dsar.models import DataSubjectRequest, RequestStep, SystemConnector, SystemTask
from profiles.models import Identifier, Subject, SubjectKey
from profiles.services import IdentitySuppressed, subject_upsert
from tests.dsar.helpers import ConnectedSystem
from tests.factories import make_staff, make_subject
from tests.workers import wait_for

pytestmark = pytest.mark.e2e

SECRET = "crm-shared-secret"
LEASE = 4


@pytest.fixture
def hub(hub, settings, roles):
    """The hub as the outside world sees it: callbacks and links point at the live server."""
    settings.CUSTODIA_PUBLIC_URL = hub.url
    settings.CUSTODIA_STEP_LEASE_SECONDS = LEASE
    return hub


@pytest.fixture
def prop(hub):
    return ConsentProperty.objects.create(name="Shop", publishable_key="pk_e2e_shop")


def _worker(start_worker, hub):
    return start_worker(
        env={"CUSTODIA_PUBLIC_URL": hub.url, "CUSTODIA_STEP_LEASE_SECONDS": str(LEASE)}
    )


def _connect(url: str) -> SystemConnector:
    from profiles.models import System

    system = System.objects.create(name="CRM", kind="destination")
    return SystemConnector.objects.create(system=system, webhook_url=url, secret=SECRET)


def _intake(api, prop, kind: str, email: str) -> DataSubjectRequest:
    api.credentials(HTTP_X_CUSTODIA_KEY=prop.publishable_key)
    r = api.post(
        "/api/v1/dsar/intake/", {"kind": kind, "email": email, "region": "EU"}, format="json"
    )
    assert r.status_code == 202, r.content
    code = re.search(r"code: (\d{6})", mail.outbox[-1].body).group(1)
    r = api.post(
        "/api/v1/dsar/intake/confirm/",
        {"reference": r.json()["reference"], "code": code},
        format="json",
    )
    assert r.status_code == 200, r.content
    return DataSubjectRequest.objects.get(reference=r.json()["reference"])


def _until(dsr: DataSubjectRequest, status: str, timeout: float = 90) -> DataSubjectRequest:
    """Wait for the worker, running the sweeper every second as beat would."""

    def reached():
        housekeeping.sweep()
        current = DataSubjectRequest.objects.get(pk=dsr.pk)
        return current if current.status == status else None

    return wait_for(reached, timeout=timeout, interval=1, message=f"request to be {status}")


@pytest.mark.timeout(300)
def test_erasure_and_access_requests_go_from_intake_to_completion_on_a_worker(
    hub, prop, start_worker, api, client
):
    _worker(start_worker, hub)
    erased = make_subject(region="EU", email="erase.me@example.com", name="Erin Rase", events=5)
    kept = make_subject(region="EU", email="copy.me@example.com", name="Cory Pie", events=7)
    officer = make_staff("Privacy officer", regions=["EU"])

    with ConnectedSystem(SECRET) as crm:
        _connect(crm.url)

        # Erasure: intake, confirmation, an officer's approval, then the worker.
        erasure = _intake(api, prop, "erasure", "erase.me@example.com")
        assert erasure.status == "awaiting_approval"
        client.force_login(officer)
        r = client.post(
            f"/api/v1/dsar/requests/{erasure.pk}/approve/", {}, content_type="application/json"
        )
        assert r.status_code == 200, r.content
        erasure = _until(erasure, "completed")

        # Access: starts as soon as the address is confirmed.
        access = _intake(api, prop, "access", "copy.me@example.com")
        access = _until(access, "completed")

    # The connected system got one signed order per request, with the identifiers it needs.
    orders = {o["type"]: o for o in crm.deliveries}
    assert set(orders) == {"dsar.erasure", "dsar.access"}
    assert {"kind": "email", "value": "erase.me@example.com"} in orders["dsar.erasure"][
        "identifiers"
    ]
    assert crm.bad_signatures == 0
    assert SystemTask.objects.filter(status="done").count() == 2

    # Erasure: nothing of the person decrypts, the identity is suppressed, the proof remains.
    erased.refresh_from_db()
    assert erased.status == Subject.Status.ERASED
    assert not SubjectKey.objects.filter(subject_id=erased.pk).exists()
    assert not Identifier.objects.filter(subject=erased).exists()
    with pytest.raises(IdentitySuppressed):
        subject_upsert(
            record={
                "region": "EU",
                "identifiers": [{"kind": "email", "value": "erase.me@example.com"}],
            },
            actor=__import__("audit.actors").actors.Actor.system("reimport"),
        )
    assert [s.status for s in erasure.steps.all()] == ["done"] * 5
    assert erasure.result["erase"]["data_key_destroyed"] is True

    # Access: the archive holds the profile, events and the access history; downloadable once.
    archive = access.archive
    token = archives.download_token(archive)
    response = client.post(f"/privacy-center/download/{token}/")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    data = json.loads(zipfile.ZipFile(io.BytesIO(content)).read("data.json"))
    assert data["subject"]["id"] == str(kept.pk)
    assert len(data["events"]) == 7
    assert any(a["value"] == "Cory Pie" for a in data["attributes"])
    assert client.post(f"/privacy-center/download/{token}/").status_code == 410


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_request_resumes_after_restart_without_duplicating_effects(
    hub, start_worker, api, settings
):
    subject = make_subject(region="EU", email="killed@example.com", events=3)
    worker = _worker(start_worker, hub)
    # The system takes 6 s to answer: the worker is inside the "systems" step when killed.
    with ConnectedSystem(SECRET, delay=6) as crm:
        _connect(crm.url)
        from audit.actors import Actor
        from dsar import services

        dsr, _ = services.request_create(
            kind="erasure",
            channel="api",
            actor=Actor.system("crm-integration"),
            subject=subject,
            verification="service",
        )
        with __import__("django.test", fromlist=["x"]).TestCase.captureOnCommitCallbacks(
            execute=True
        ):
            services.request_approve(request=dsr, actor=Actor.system("officer"))
        assert crm.received.wait(60), "the worker never reached the connected system"
        systems = RequestStep.objects.get(request=dsr, name="systems")
        assert systems.status == "running"
        worker.kill()

        time.sleep(LEASE + 1)
        _worker(start_worker, hub)
        dsr = _until(dsr, "completed", timeout=120)

    steps = {s.name: s for s in dsr.steps.all()}
    assert steps["systems"].attempts == 2  # resumed by the sweeper after the lease ran out
    assert steps["erase"].attempts == 1  # done before the kill, never redone
    assert AuditEvent.objects.filter(action="profiles.subject.erase").count() == 1
    assert AuditEvent.objects.filter(action="dsar.request.complete").count() == 1
    assert len(crm.effects) == 1  # the system acted once, however often it was asked
    assert SystemTask.objects.get(request=dsr).status == "done"
