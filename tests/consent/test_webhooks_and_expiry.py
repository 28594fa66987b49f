"""Consent changes reach connected systems as signed webhooks; expired consents are re-asked."""

import datetime as dt
import http.server
import json
import threading

import pytest
from django.utils import timezone

from audit.actors import Actor
from consent.models import (
    ConsentProperty,
    ConsentRecord,
    ConsentWebhook,
    CurrentConsent,
    Purpose,
    WebhookDelivery,
)
from consent.services import consent_flag_expired, consent_record
from consent.webhooks import outbox_deliver
from core.webhooks import SIGNATURE_HEADER, verify
from tests.factories import make_subject
from tests.faults import broker_unreachable

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


@pytest.fixture
def receiver():
    """A local HTTP server playing the connected system; answers with the status in `status`."""
    received: list[tuple[bytes, str]] = []
    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers[SIGNATURE_HEADER]))
            self.send_response(state["status"])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, state
    server.shutdown()
    server.server_close()


def test_a_consent_change_is_delivered_signed_and_without_personal_values(receiver):
    url, received, _ = receiver
    ConsentWebhook.objects.create(name="CRM", url=url, secret="s3cret")
    subject = make_subject(region="EU", email="webhook.person@example.com")
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
    )
    assert outbox_deliver() == 1
    body, signature = received[0]
    assert verify("s3cret", body, signature)
    payload = json.loads(body)
    assert (payload["subject"], payload["purpose"], payload["state"]) == (
        str(subject.pk),
        "analytics",
        "granted",
    )
    assert "webhook.person" not in body.decode()
    assert WebhookDelivery.objects.get().status == "delivered"


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(receiver):
    url, received, state = receiver
    ConsentWebhook.objects.create(name="CRM", url=url, secret="s3cret")
    state["status"] = 503
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="denied",
        channel="api",
        actor=SYSTEM,
        subject=make_subject(),
    )
    assert outbox_deliver() == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 503")
    assert outbox_deliver() == 0  # not due yet: backing off
    state["status"] = 200
    WebhookDelivery.objects.update(next_attempt_at=timezone.now())
    assert outbox_deliver() == 1
    assert len(received) == 2


def _analytics_granted() -> None:
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=make_subject(),
    )


def test_a_valid_url_outside_ascii_is_delivered(receiver):
    """`/hooks/über` is a valid URL (the admin's URLField takes it) that urllib could not
    send: the delivery raised, its row stayed pending, leased again and again, its attempts
    never counted."""
    url, received, _ = receiver
    hook = ConsentWebhook(name="CRM", url=f"{url}/über?land=österreich", secret="s3cret")
    hook.full_clean()
    hook.save()
    _analytics_granted()
    assert outbox_deliver() == 1
    assert len(received) == 1
    assert WebhookDelivery.objects.get().status == "delivered"


def test_a_url_that_cannot_be_sent_is_a_failed_attempt_not_a_crash(receiver):
    url, received, _ = receiver
    port_typo = url.replace("/hook", "x/hook")  # saved before URLs were checked: not a port
    ConsentWebhook.objects.create(name="CRM", url=port_typo, secret="s3cret")
    _analytics_granted()
    assert outbox_deliver() == 0
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "InvalidURL"
    assert not received


def test_consents_past_the_regimes_maximum_age_are_flagged_for_a_new_prompt():
    subject = make_subject(region="EU")
    consent_record(
        purpose=Purpose.objects.get(slug="personalization"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
        recorded_at=timezone.now() - dt.timedelta(days=366),
    )
    fresh = make_subject(region="EU")
    consent_record(
        purpose=Purpose.objects.get(slug="personalization"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=fresh,
    )
    assert consent_flag_expired() == 1
    assert CurrentConsent.objects.get(subject=subject).needs_reprompt
    assert not CurrentConsent.objects.get(subject=fresh).needs_reprompt


@pytest.mark.django_db(transaction=True)
def test_a_banner_choice_made_while_the_broker_is_down_is_answered_and_delivered_later(
    client, receiver
):
    url, received, _ = receiver
    ConsentWebhook.objects.create(name="CRM", url=url, secret="s3cret")
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_broker_down")
    prop.purposes.set(Purpose.objects.all())

    with broker_unreachable():
        response = client.post(
            "/api/v1/consent/public/consents/?key=pk_broker_down",
            {
                "visitor_id": "visitor-broker-down",
                "region": "EU",
                "choices": {"analytics": "granted"},
            },
            content_type="application/json",
        )

    # The choice is committed, so the visitor is told so; the outbox row waits for beat.
    assert response.status_code == 200, response.content
    assert ConsentRecord.objects.filter(visitor_id="visitor-broker-down").count() == 1
    assert outbox_deliver() == 1
    assert len(received) == 1


def test_the_outbox_admin_shows_deliveries_to_staff_who_see_every_region_only(client, roles):
    """A delivery's payload names a subject of any region, and the row has no region: an EU
    privacy officer listed and opened those of Californians (subject and visitor ids, purpose,
    state), and could probe them with ?payload__icontains=<id>."""
    from access.roles import DPO, PRIVACY_OFFICER
    from tests.factories import make_staff

    hook = ConsentWebhook.objects.create(name="CRM", url="http://127.0.0.1:9/", secret="s")
    subject = make_subject(region="US-CA")
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
    )
    delivery = WebhookDelivery.objects.get(webhook=hook)
    client.force_login(make_staff(PRIVACY_OFFICER, regions=["EU"]))
    listing = client.get("/admin/consent/webhookdelivery/", {"payload__icontains": subject.pk})
    assert list(listing.context["cl"].result_list) == []
    page = client.get(f"/admin/consent/webhookdelivery/{delivery.pk}/change/")
    assert str(subject.pk) not in page.content.decode()
    client.force_login(make_staff(DPO))
    listing = client.get("/admin/consent/webhookdelivery/")
    assert list(listing.context["cl"].result_list) == [delivery]
