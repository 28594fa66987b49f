"""Inbound source webhooks: signed Segment calls are stored encrypted and answered 202, then
processed through the profiles upsert (the source's region scope, suppression, audit); bad
signatures, stale timestamps and replays are refused; rotation keeps the old secret for an
overlap; malformed calls are dead-lettered and can be replayed once fixed."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.db import connection
from django.utils import timezone

from activation import services
from activation.models import InboxMessage, SourceEndpoint
from audit.actors import Actor
from audit.models import AuditEvent
from core.webhooks import encode, sign
from profiles.crypto.blind_index import blind_index, normalize
from profiles.models import Event, Identifier, Subject, System
from profiles.services import subject_erase

pytestmark = pytest.mark.django_db


@pytest.fixture
def source():
    system = System.objects.create(name="Web shop", kind=System.Kind.SOURCE)
    return SourceEndpoint.objects.create(system=system, regions=["EU"])


def post(api, source, call, *, secret=None, timestamp=None, signature=None):
    body = encode(call)
    header = signature or sign(secret or source.secret, body, timestamp=timestamp)
    return api.post(
        f"/api/v1/sources/{source.pk}/events/",
        data=body,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=header,
    )


def process_pending():
    for pk in InboxMessage.objects.filter(status="pending").values_list("pk", flat=True):
        services.inbox_process(pk)


def holder(kind, value):
    index = blind_index(kind, normalize(kind, value))
    return Identifier.objects.get(kind=kind, value_index=index).subject


IDENTIFY = {
    "type": "identify",
    "messageId": "m-1",
    "userId": "u-100",
    "anonymousId": "anon-1",
    "traits": {"email": "Nina.Weber@example.de", "firstName": "Nina", "plan": "gold"},
    "timestamp": "2026-10-01T10:00:00Z",
}


def test_good_signature_is_accepted_at_once_and_stored_encrypted(api, source):
    response = post(api, source, IDENTIFY)
    assert response.status_code == 202, response.content
    message = InboxMessage.objects.get(pk=response.json()["id"])
    assert message.status == "pending"
    assert not Subject.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM activation_inboxmessage")
        (stored,) = cursor.fetchone()
    assert "Nina" not in stored
    assert "u-100" not in stored
    assert message.payload["userId"] == "u-100"


def test_wrong_signature_and_stale_timestamp_are_refused(api, source):
    assert post(api, source, IDENTIFY, secret="not-the-secret").status_code == 401
    stale = int(time.time()) - 3600
    assert post(api, source, IDENTIFY, timestamp=stale).status_code == 401
    assert post(api, source, IDENTIFY, signature="t=1,v1=00").status_code == 401
    assert not InboxMessage.objects.exists()


def test_replayed_message_id_is_answered_without_a_second_row(api, source):
    assert post(api, source, IDENTIFY).status_code == 202
    again = post(api, source, IDENTIFY)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert InboxMessage.objects.count() == 1


def test_rotated_secret_keeps_the_old_one_for_the_overlap_only(api, source):
    old = source.secret
    new = services.source_secret_rotate(
        endpoint=source, actor=Actor.system("test"), overlap=dt.timedelta(hours=1)
    )
    assert new != old
    assert post(api, source, {**IDENTIFY, "messageId": "a"}, secret=new).status_code == 202
    assert post(api, source, {**IDENTIFY, "messageId": "b"}, secret=old).status_code == 202
    source.previous_valid_until = timezone.now() - dt.timedelta(seconds=1)  # the overlap ends
    source.save(update_fields=["previous_valid_until"])
    assert post(api, source, {**IDENTIFY, "messageId": "c"}, secret=old).status_code == 401
    rotation = AuditEvent.objects.get(action="activation.source.rotate_secret")
    assert old not in rotation.reason
    assert new not in rotation.reason


def test_identify_track_alias_sequence_builds_one_subject(api, source):
    track = {
        "type": "track",
        "messageId": "m-2",
        "anonymousId": "anon-2",
        "event": "Order Completed",
        "properties": {"total": 42},
        "timestamp": "2026-10-01T10:05:00Z",
    }
    page = {"type": "page", "messageId": "m-3", "anonymousId": "anon-2", "name": "Home"}
    alias = {"type": "alias", "messageId": "m-4", "userId": "u-100", "previousId": "anon-2"}
    for call in (IDENTIFY, track, page):
        assert post(api, source, call).status_code == 202
    process_pending()
    known, visitor = holder("customer_id", "u-100"), holder("device_id", "anon-2")
    assert known.pk != visitor.pk  # a visitor's events wait on their own device id
    assert holder("email", "nina.weber@example.de").pk == known.pk
    assert post(api, source, alias).status_code == 202
    process_pending()
    joined = holder("customer_id", "u-100")
    assert holder("device_id", "anon-2").pk == joined.pk
    assert holder("device_id", "anon-1").pk == joined.pk
    names = sorted(Event.objects.filter(subject=joined).values_list("name", flat=True))
    assert names == ["Order Completed", "page"]
    assert {a.key: a.value for a in joined.attributes.all()}["first_name"] == "Nina"
    assert AuditEvent.objects.filter(actor_id=f"source:{source.system_id}").exists()


@pytest.mark.parametrize("user_id", [True, "\u200b", "\ufeff"])
def test_a_user_id_that_is_no_id_joins_nobody(api, source, user_id):
    """`"userId": true` (or an invisible one) from two visitors is no identity they share:
    each stays on their own device id, instead of both becoming one person."""
    for n in (1, 2):
        call = {**IDENTIFY, "messageId": f"m-{n}", "userId": user_id, "anonymousId": f"anon-{n}"}
        call["traits"] = {"plan": "gold"}
        assert post(api, source, call).status_code == 202
    process_pending()
    assert set(InboxMessage.objects.values_list("status", flat=True)) == {"done"}
    assert holder("device_id", "anon-1").pk != holder("device_id", "anon-2").pk
    assert not Identifier.objects.filter(kind="customer_id").exists()


@pytest.mark.parametrize("message_id", ["\u200b", " \ufeff"])
def test_an_invisible_message_id_is_refused_at_intake(api, source, message_id):
    response = post(api, source, {**IDENTIFY, "messageId": message_id})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert not InboxMessage.objects.exists()


def test_processing_twice_does_not_duplicate(api, source):
    post(api, source, {**IDENTIFY, "type": "track", "event": "Viewed"})
    message = InboxMessage.objects.get()
    assert services.inbox_process(message.pk) == "done"
    InboxMessage.objects.filter(pk=message.pk).update(status="pending")  # as if redelivered
    assert services.inbox_process(message.pk) == "done"
    assert Event.objects.filter(name="Viewed").count() == 1


def test_region_outside_the_source_scope_and_suppression_dead_letter(api, source):
    SourceEndpoint.objects.filter(pk=source.pk).update(regions=[])
    post(api, source, IDENTIFY)
    process_pending()
    message = InboxMessage.objects.get()
    assert message.status == "dead"
    assert "region" in message.last_error
    assert not Subject.objects.exists()

    SourceEndpoint.objects.filter(pk=source.pk).update(regions=["EU"])
    post(api, source, {**IDENTIFY, "messageId": "m-9"})
    process_pending()
    subject = holder("customer_id", "u-100")
    subject_erase(subject_id=subject.pk, actor=Actor.system("test"), reason="asked")
    post(api, source, {**IDENTIFY, "messageId": "m-10"})
    process_pending()
    refused = InboxMessage.objects.get(message_id="m-10")
    assert refused.status == "dead"
    assert "suppressed" in refused.last_error


def test_dead_letter_then_replay_after_the_fix(api, source):
    bad = {**IDENTIFY, "traits": {"email": "not-an-address"}}
    post(api, source, bad)
    process_pending()
    message = InboxMessage.objects.get()
    assert message.status == "dead"
    assert "not-an-address" not in message.last_error
    services.inbox_replay(message=message, actor=Actor.system("officer"))
    # the officer fixed the source's region/mapping; here the call itself is still bad
    assert services.inbox_process(message.pk) == "dead"
    SourceEndpoint.objects.filter(pk=source.pk).update(regions=["EU"])
    message.refresh_from_db()
    with pytest.raises(Exception, match="dead-lettered"):
        services.inbox_replay(message=InboxMessage(status="done"), actor=Actor.system("o"))
    assert AuditEvent.objects.filter(action="activation.inbox.replay").count() == 1


def test_replay_processes_a_message_dead_lettered_by_scope(api, source):
    SourceEndpoint.objects.filter(pk=source.pk).update(regions=[])
    post(api, source, IDENTIFY)
    process_pending()
    message = InboxMessage.objects.get()
    assert message.status == "dead"
    SourceEndpoint.objects.filter(pk=source.pk).update(regions=["EU"])  # the officer's fix
    services.inbox_replay(message=message, actor=Actor.system("officer"))
    assert services.inbox_process(message.pk) == "done"
    assert holder("customer_id", "u-100")


def test_the_endpoint_kept_in_process_follows_every_change_on_the_next_call(
    api, source, django_assert_max_num_queries
):
    from django.core.cache import cache

    assert post(api, source, {**IDENTIFY, "messageId": "k1"}).status_code == 202
    with django_assert_max_num_queries(4):  # kept: savepoint, key and row inserted, release
        assert post(api, source, {**IDENTIFY, "messageId": "k2"}).status_code == 202
    old = source.secret
    new = services.source_secret_rotate(
        endpoint=source, actor=Actor.system("test"), overlap=dt.timedelta(seconds=0)
    )
    assert post(api, source, {**IDENTIFY, "messageId": "k3"}, secret=new).status_code == 202
    assert post(api, source, {**IDENTIFY, "messageId": "k4"}, secret=old).status_code == 401
    cache.clear()  # the version evicted: read again, still right
    assert post(api, source, {**IDENTIFY, "messageId": "k5"}, secret=new).status_code == 202
    source.refresh_from_db()
    source.active = False  # as the admin saves it
    source.save()
    assert post(api, source, {**IDENTIFY, "messageId": "k6"}, secret=new).status_code == 401
    source.active = True
    source.save()
    assert post(api, source, {**IDENTIFY, "messageId": "k7"}, secret=new).status_code == 202
    source.system.delete()
    assert post(api, source, {**IDENTIFY, "messageId": "k8"}, secret=new).status_code == 401


def test_per_source_rate_limit(api, source, settings):
    SourceEndpoint.objects.filter(pk=source.pk).update(rate="2/min")
    source.refresh_from_db()
    codes = [post(api, source, {**IDENTIFY, "messageId": f"r{i}"}).status_code for i in range(3)]
    assert codes == [202, 202, 429]
    # a stranger's unsigned calls do not use up the source's allowance
    assert post(api, source, IDENTIFY, secret="x").status_code == 401


def test_unknown_source_and_malformed_calls(api, source):
    from uuid import uuid4

    response = api.post(
        f"/api/v1/sources/{uuid4()}/events/", data="{}", content_type="application/json"
    )
    assert response.status_code == 401
    assert post(api, source, {"type": "screen", "messageId": "x"}).status_code == 400
    assert post(api, source, {"type": "track", "userId": "u"}).status_code == 400
    assert (
        json.loads(post(api, source, {"type": "x"}).content)["error"]["code"] == "invalid_payload"
    )


def test_officer_reads_a_dead_letter_masked_and_replays_it(api, source, client, roles):
    from tests.factories import make_staff

    SourceEndpoint.objects.filter(pk=source.pk).update(regions=[])
    post(api, source, {**IDENTIFY, "traits": {"email": "nina.weber@example.de"}})
    process_pending()
    message = InboxMessage.objects.get()
    assert message.status == "dead"
    InboxMessage.objects.filter(pk=message.pk).update(region="EU")
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    page = client.get(f"/admin/activation/inboxmessage/{message.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "nina.weber@example.de" not in text
    assert "n***@e***.de" in text
    assert "u-100" not in text
    SourceEndpoint.objects.filter(pk=source.pk).update(regions=["EU"])
    client.post(
        "/admin/activation/inboxmessage/",
        {"action": "replay", "_selected_action": [str(message.pk)]},
    )
    message.refresh_from_db()
    assert message.status == "pending"
    assert services.inbox_process(message.pk) == "done"


def test_the_common_call_answers_the_same_on_its_lean_path_as_through_drf(api, source, monkeypatch):
    """SourceEventsView.dispatch stores the common call without DRF's dispatch: same status,
    headers and body as DRF's own answer, for a new call and for a replay."""
    from activation.api.views import SourceEventsView

    lean = post(api, source, {**IDENTIFY, "messageId": "lean"})
    lean_again = post(api, source, {**IDENTIFY, "messageId": "lean"})
    monkeypatch.setattr(SourceEventsView, "_lean_post", lambda self, request, source_id: None)
    full = post(api, source, {**IDENTIFY, "messageId": "full"})
    full_again = post(api, source, {**IDENTIFY, "messageId": "full"})
    assert not hasattr(lean, "data")  # the lean path answered these
    assert not hasattr(lean_again, "data")
    assert hasattr(full, "data")
    for a, b, status in ((lean, full, 202), (lean_again, full_again, 200)):
        assert a.status_code == b.status_code == status
        for header in ("Content-Type", "Allow", "Vary", "Content-Length", "X-Frame-Options"):
            assert a.get(header) == b.get(header), header
        body_a, body_b = json.loads(a.content), json.loads(b.content)
        assert body_a.pop("id") != body_b.pop("id")
        assert body_a == body_b
    assert lean_again.json()["id"] == lean.json()["id"]
    assert InboxMessage.objects.count() == 2


def test_errors_of_the_lean_path_are_worded_by_drf(api, source):
    """A refused signature, a bad call and the rate limit leave the lean path: DRF answers
    them with the one error format (and the refused call's token is taken once)."""
    SourceEndpoint.objects.filter(pk=source.pk).update(rate="1/min")
    source.refresh_from_db()
    bad = post(api, source, IDENTIFY, secret="x")
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "invalid_signature")
    malformed = post(api, source, {"type": "x"})
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "invalid_payload")
    limited = post(api, source, {**IDENTIFY, "messageId": "r1"})
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1
    assert hasattr(limited, "data")  # DRF's answer
    assert not InboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_call_is_committed_on_its_own(api, source):
    """No outer transaction (as under gunicorn): on SQLite the key and the row are written in
    one transaction on the driver's connection, a replay's IntegrityError rolls back, and the
    connection is left in autocommit, as Django expects it."""
    from django.core.cache import cache

    cache.set(services.WAKE_KEY, 1)  # a wake-up waits: nothing sent to the broker
    first = post(api, source, IDENTIFY)
    assert first.status_code == 202
    assert post(api, source, IDENTIFY).status_code == 200
    assert connection.get_autocommit()
    assert not connection.in_atomic_block
    if connection.vendor == "sqlite":
        assert not connection.connection.in_transaction
    message = InboxMessage.objects.get()
    assert str(message.pk) == first.json()["id"]
    assert message.payload["userId"] == "u-100"  # decrypted with its own key
    assert services.inbox_process(message.pk) == "done"
    cache.delete(services.WAKE_KEY)


def test_an_officer_cannot_replay_a_message_whose_source_now_writes_outside_their_regions(
    api, source, client, roles
):
    """The message came in under EU (the officer sees it), but the source now writes US-CA: a
    replay would process it into Californians' profiles."""
    from tests.factories import make_staff

    SourceEndpoint.objects.filter(pk=source.pk).update(regions=[])
    post(api, source, IDENTIFY)
    process_pending()
    message = InboxMessage.objects.get()
    InboxMessage.objects.filter(pk=message.pk).update(region="EU")
    SourceEndpoint.objects.filter(pk=source.pk).update(regions=["US-CA"])
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    page = client.post(
        "/admin/activation/inboxmessage/",
        {"action": "replay", "_selected_action": [str(message.pk)]},
        follow=True,
    )
    assert "now writes outside your regions" in page.content.decode()
    message.refresh_from_db()
    assert message.status == "dead"
    index = blind_index("customer_id", normalize("customer_id", "u-100"))
    assert not Identifier.objects.filter(kind="customer_id", value_index=index).exists()


def test_a_source_deactivated_by_a_data_migration_is_refused_once_migrate_ends(api, source):
    """A data migration saves through its migration state's model (no signal reaches the
    receivers of the real one): the migrate that ran it moves every source's version."""
    from django.core.management import call_command
    from django.db.migrations.executor import MigrationExecutor

    assert post(api, source, {**IDENTIFY, "messageId": "g1"}).status_code == 202  # kept now
    state = MigrationExecutor(connection).loader.project_state().apps
    row = state.get_model("activation", "SourceEndpoint").objects.get(pk=source.pk)
    row.active = False
    row.save()
    call_command("migrate", verbosity=0)  # the upgrade's migrate ends (nothing left to apply)
    assert post(api, source, {**IDENTIFY, "messageId": "g2"}).status_code == 401


def test_a_deactivated_source_stays_refused_when_the_cache_goes_back(api, source):
    """A cache restored from an older snapshot (or a replica that missed the last writes)
    holds the endpoint's older version again, under which this process kept the endpoint as
    it was (active): the version is moved on instead, and the row read again."""
    from django.core.cache import cache

    from activation.selectors import ENDPOINT_VERSION_KEY

    key = ENDPOINT_VERSION_KEY.format(source.pk)
    assert post(api, source, {**IDENTIFY, "messageId": "b1"}).status_code == 202  # kept now
    before = cache.get(key)
    source.active = False
    source.save()  # moves the version on (this process has seen the newer one)
    cache.set(key, before, timeout=None)  # the cache went back to when the source was active
    assert post(api, source, {**IDENTIFY, "messageId": "b2"}).status_code == 401
    assert cache.get(key) not in (None, before)


def test_a_deactivation_the_cache_cannot_be_told_of_is_not_made(api, source, partitioned_cache):
    """With the shared cache unreachable the endpoint's version cannot move: a deactivation
    written anyway (a save outside a transaction commits before its post_save) would leave
    every process accepting the source's calls once the cache answers again. It is refused
    before anything is written; made again once the cache answers, the next call is refused."""
    from redis.exceptions import RedisError

    assert post(api, source, {**IDENTIFY, "messageId": "p1"}).status_code == 202  # kept now
    source.active = False
    partitioned_cache.cut()
    assert post(api, source, {**IDENTIFY, "messageId": "p2"}).status_code == 503
    with pytest.raises(RedisError):
        source.save()
    partitioned_cache.heal()
    time.sleep(0.3)  # the fail-fast window ends: the cache is tried again
    assert SourceEndpoint.objects.get(pk=source.pk).active  # not written
    source.save()
    assert post(api, source, {**IDENTIFY, "messageId": "p3"}).status_code == 401
