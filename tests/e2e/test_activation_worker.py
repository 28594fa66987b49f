"""Sources and destinations with a real worker: a signed Segment call is processed by the
worker; a worker killed with SIGKILL in the middle of the inbox leaves its claimed batch to the
next worker once the lease ran out, and every payload is processed exactly once; a grant puts a
person in a destination's push stream and a withdrawal delivers their removal, signed, through
the consent outbox to a local HTTP server playing the destination."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections import Counter

import pytest
from django.core.cache import cache

from activation import services
from activation.models import Destination, InboxMessage, SourceEndpoint
from audit.actors import Actor
from audit.models import AuditEvent
from consent.models import ConsentWebhook, Purpose
from consent.services import consent_record
from core.webhooks import SIGNATURE_HEADER, encode, sign, verify
from profiles.models import Event, Subject, System
from tests.factories import make_subject, make_token
from tests.workers import wait_for

pytestmark = pytest.mark.e2e
SYSTEM = Actor.system("tests")


@pytest.fixture
def receiver():
    received: list[tuple[bytes, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers[SIGNATURE_HEADER]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/audience", received
    server.shutdown()
    server.server_close()


def _payloads(received):
    return [json.loads(body) for body, _ in received]


def test_grant_appears_and_withdrawal_removal_is_delivered(worker, regimes, receiver):
    url, received = receiver
    token, _ = make_token(["destinations:read"])
    hook = ConsentWebhook.objects.create(
        name="E-mail tool push", url=url, secret="push-secret", consent_changes=False
    )
    system = System.objects.create(name="E-mail tool", kind=System.Kind.DESTINATION)
    destination = Destination.objects.create(system=system, token=token, push_webhook=hook)
    destination.purposes.set(Purpose.objects.filter(slug="marketing_email"))
    person = make_subject(region="EU", email="push.person@example.com")
    purpose = Purpose.objects.get(slug="marketing_email")

    consent_record(purpose=purpose, state="granted", channel="api", actor=SYSTEM, subject=person)
    wait_for(
        lambda: any(str(person.pk) in p["added"] for p in _payloads(received)),
        timeout=30,
        message="the grant pushed to the destination",
    )
    consent_record(
        purpose=purpose, state="withdrawn", channel="banner", actor=SYSTEM, subject=person
    )
    wait_for(
        lambda: any(str(person.pk) in p["removed"] for p in _payloads(received)),
        timeout=30,
        message="the withdrawal pushed to the destination",
    )
    for body, signature in received:
        assert verify("push-secret", body, signature)
        assert b"push.person" not in body


def test_a_signed_call_is_processed_by_the_worker(worker, api):
    system = System.objects.create(name="Web shop", kind=System.Kind.SOURCE)
    source = SourceEndpoint.objects.create(system=system, regions=["EU"])
    call = {"type": "identify", "messageId": "e2e-1", "userId": "u-e2e", "traits": {"plan": "x"}}
    body = encode(call)
    response = api.post(
        f"/api/v1/sources/{source.pk}/events/",
        data=body,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=sign(source.secret, body),
    )
    assert response.status_code == 202
    wait_for(
        lambda: InboxMessage.objects.filter(status="done").exists(),
        timeout=30,
        message="the inbox message processed",
    )
    assert Subject.objects.filter(pk=InboxMessage.objects.get().subject_id).exists()


@pytest.mark.timeout(300)
def test_a_worker_killed_mid_inbox_leaves_every_payload_processed_exactly_once(start_worker):
    lease = 4
    env = {"CUSTODIA_INBOX_LEASE_SECONDS": str(lease), "CUSTODIA_INBOX_BATCH": "40"}
    system = System.objects.create(name="Web shop", kind=System.Kind.SOURCE)
    source = SourceEndpoint.objects.create(system=system, regions=["EU"])
    total = 600
    cache.delete(services.WAKE_KEY)
    for i in range(total):  # one wake-up is sent; the worker below takes it
        call = {
            "type": "track",
            "messageId": f"kill-{i}",
            "userId": f"kill-user-{i % 50}",
            "event": f"Viewed {i}",
        }
        body = encode(call)
        services.inbox_accept(endpoint=source, body=body, signature=sign(source.secret, body))
    worker = start_worker(env=env)

    def done() -> int:
        return InboxMessage.objects.filter(status="done").count()

    wait_for(lambda: done() >= 60, timeout=120, message="the worker into the inbox")
    worker.kill()
    left = total - done()
    assert left > 0, "the worker finished before it was killed"

    time.sleep(lease + 1)  # the killed worker's claims run out
    start_worker(env=env)
    cache.delete(services.WAKE_KEY)  # the wake-up the killed worker took is lost with it

    def drained() -> bool:
        services.inbox_wake()  # as beat's drain would, every few seconds
        return done() == total

    wait_for(drained, timeout=180, interval=1, message="every payload processed after the restart")
    attempts = Counter(InboxMessage.objects.values_list("attempts", flat=True))
    assert set(attempts) == {1}, attempts  # the killed worker's claims counted nothing
    assert Event.objects.count() == total
    assert Subject.objects.count() == 50
    upserts = AuditEvent.objects.filter(
        action__in=["profiles.subject.create", "profiles.subject.update"]
    )
    assert upserts.count() == total  # one upsert per payload, none redone
