"""The ledger is append-only, chained per person, idempotent, and loses nothing under load."""

import contextlib
import datetime as dt
import threading

import pytest
from django.db import connection, connections

from audit.actors import Actor
from consent import banner
from consent.models import ConsentProperty, ConsentRecord, CurrentConsent, Jurisdiction, Purpose
from consent.services import (
    consent_chain_verify,
    consent_record,
    visitor_link_to_subject,
)
from core.errors import ConflictError
from tests.factories import make_subject

SYSTEM = Actor.system("tests")


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_updates_lose_no_record_and_the_projection_equals_the_last():
    subject = make_subject(region="EU")
    purpose = Purpose.objects.get(slug="analytics")
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def update(n: int) -> None:
        try:
            barrier.wait()
            consent_record(
                purpose=purpose,
                state="granted" if n % 2 else "denied",
                channel="api",
                actor=SYSTEM,
                subject=subject,
                idempotency_key=f"k{n}",
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=update, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = ConsentRecord.objects.filter(subject=subject).order_by("recorded_at")
    assert records.count() == 20
    current = CurrentConsent.objects.get(subject=subject, purpose=purpose)
    assert current.record_id == records.last().pk
    assert current.state == records.last().state
    assert consent_chain_verify(subject=subject)


@pytest.mark.django_db
def test_records_cannot_be_changed_or_deleted():
    record = consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=make_subject(),
    )
    record.state = "denied"
    with pytest.raises(PermissionError):
        record.save()
    with pytest.raises(PermissionError):
        record.delete()


@pytest.mark.django_db
def test_an_altered_record_breaks_its_owners_chain():
    subject = make_subject()
    purpose = Purpose.objects.get(slug="analytics")
    for state in ("granted", "withdrawn", "granted"):
        consent_record(purpose=purpose, state=state, channel="api", actor=SYSTEM, subject=subject)
    assert consent_chain_verify(subject=subject)
    target = ConsentRecord.objects.filter(subject=subject).order_by("recorded_at")[1]
    ConsentRecord.objects.filter(pk=target.pk).update(state="granted")  # as a DBA could
    assert not consent_chain_verify(subject=subject)


@pytest.mark.django_db
def test_the_same_idempotency_key_returns_the_first_record_or_conflicts():
    subject = make_subject()
    purpose = Purpose.objects.get(slug="analytics")
    first = consent_record(
        purpose=purpose,
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
        idempotency_key="banner-123",
    )
    again = consent_record(
        purpose=purpose,
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
        idempotency_key="banner-123",
    )
    assert again.pk == first.pk
    with pytest.raises(ConflictError):
        consent_record(
            purpose=purpose,
            state="denied",
            channel="api",
            actor=SYSTEM,
            subject=subject,
            idempotency_key="banner-123",
        )


@pytest.mark.django_db
def test_a_visitors_choices_move_to_the_subject_when_identified():
    purpose = Purpose.objects.get(slug="personalization")
    consent_record(
        purpose=purpose,
        state="granted",
        channel="banner",
        actor=SYSTEM,
        visitor_id="v-42",
        region="EU",
    )
    subject = make_subject(region="EU")
    assert visitor_link_to_subject(visitor_id="v-42", subject=subject, actor=SYSTEM) == 1
    assert CurrentConsent.objects.get(subject=subject, purpose=purpose).state == "granted"
    assert ConsentRecord.objects.filter(visitor_id="v-42").count() == 1  # history kept as it was


def _twice_at_once(monkeypatch, write, *, pause_before: str) -> None:
    """Run `write` in two threads that both reach `banner.<pause_before>` before either goes
    on, as a banner's retry does while its first request is still in flight."""
    barrier = threading.Barrier(2, timeout=1)
    original = getattr(banner, pause_before)
    paused = threading.local()

    def pause_then_call(*args, **kwargs):
        if not getattr(paused, "done", False):
            paused.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(banner, pause_before, pause_then_call)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            write()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("returning", [False, True], ids=["first choice", "returning visitor"])
def test_a_banner_choice_sent_twice_at_once_is_recorded_once(monkeypatch, returning):
    """A visitor's first choice on PostgreSQL is decided without a read and appended only if
    the visitor has no record yet: both requests get that far before either writes, the
    second's append finds the first's record and is decided again on a read. A returning
    visitor's two requests both read their choices first (on SQLite every write does)."""
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_twice")
    prop.purposes.set(Purpose.objects.all())
    if returning:
        _choose(prop, "visitor-twice", {"marketing_email": "denied"})
    first_unread = connection.vendor == "postgresql" and not returning

    _twice_at_once(
        monkeypatch,
        lambda: banner.banner_record_choices(
            prop=prop,
            visitor_id="visitor-twice",
            region="EU",
            choices={"analytics": "granted"},
            notice_id=None,
            tc_string="",
            proof={"user_agent": "", "ip": "", "gpc": False},
            actor=Actor.public(f"property:{prop.pk}"),
        ),
        # Both have decided (on a read of the visitor's choices, or on none) before writing.
        pause_before="consent_record_many_after" if first_unread else "_visitor_state",
    )

    assert ConsentRecord.objects.filter(visitor_id="visitor-twice").count() == 1 + returning
    analytics = CurrentConsent.objects.get(visitor_id="visitor-twice", purpose__slug="analytics")
    assert analytics.state == "granted"
    assert consent_chain_verify(visitor_id="visitor-twice")


def _choose(prop: ConsentProperty, visitor: str, choices: dict[str, str]) -> dict:
    return banner.banner_record_choices(
        prop=prop,
        visitor_id=visitor,
        region="EU",
        choices=choices,
        notice_id=None,
        tc_string="",
        proof={"user_agent": "", "ip": "", "gpc": False},
        actor=Actor.public(f"property:{prop.pk}"),
    )


@pytest.mark.django_db(transaction=True)
def test_a_banner_choice_decided_on_a_read_another_write_overtook_is_decided_again(monkeypatch):
    """Another write of the visitor lands between the read of their choices and the append:
    the append does not chain onto the stale head; the choice is decided again on a fresh
    read, so the chain stays whole and the projection equals the last record."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite: the choices are read in the write transaction, nothing overtakes")
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_overtaken")
    prop.purposes.set(Purpose.objects.all())
    _choose(prop, "visitor-overtaken", {"analytics": "granted", "marketing_email": "granted"})
    original = banner._visitor_state
    reads: list[str] = []

    def read_then_overtaken(visitor_id):
        read = original(visitor_id)
        if not reads:  # the first read only: another request of the visitor writes now
            consent_record(
                purpose=Purpose.objects.get(slug="analytics"),
                state="denied",
                channel="banner",
                actor=SYSTEM,
                visitor_id=visitor_id,
                region="EU",
            )
        reads.append(visitor_id)
        return read

    monkeypatch.setattr(banner, "_visitor_state", read_then_overtaken)
    body = _choose(prop, "visitor-overtaken", {"analytics": "denied", "marketing_email": "denied"})

    owner = {"subject__isnull": True, "visitor_id": "visitor-overtaken"}
    # analytics was already denied by the write in between: only marketing_email is recorded.
    assert ConsentRecord.objects.filter(**owner).count() == 2 + 1 + 1
    assert {slug: row["state"] for slug, row in body["current"].items()} == {
        "analytics": "denied",
        "marketing_email": "denied",
    }
    for row in CurrentConsent.objects.filter(**owner):
        last = ConsentRecord.objects.filter(**owner, purpose=row.purpose).latest("recorded_at")
        assert (row.record_id, row.state, row.recorded_at) == (
            last.pk,
            last.state,
            last.recorded_at,
        )
    assert consent_chain_verify(visitor_id="visitor-overtaken")
    assert len(reads) == 2  # decided again, on a read under the visitor's lock


@pytest.mark.django_db(transaction=True)
def test_a_banner_grant_expires_after_the_regimes_maximum_age():
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_expiry")
    prop.purposes.set(Purpose.objects.all())
    _choose(prop, "visitor-expiry", {"analytics": "granted", "marketing_email": "denied"})

    rows = {
        row.purpose.slug: row
        for row in CurrentConsent.objects.filter(subject__isnull=True, visitor_id="visitor-expiry")
    }
    max_age = Jurisdiction.objects.get(code="GDPR").consent_max_age_days
    granted = rows["analytics"]
    assert granted.expires_at == granted.recorded_at + dt.timedelta(days=max_age)
    assert rows["marketing_email"].expires_at is None
    assert not any(row.needs_reprompt for row in rows.values())
    assert {row.region for row in rows.values()} == {"EU"}


@pytest.mark.django_db(transaction=True)
def test_a_gpc_signal_sent_twice_at_once_opts_out_once(monkeypatch):
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_gpc_twice")
    prop.purposes.set(Purpose.objects.all())

    _twice_at_once(
        monkeypatch,
        lambda: banner.banner_config(
            prop=prop,
            region="US-CA",
            language="en",
            visitor_id="visitor-gpc-twice",
            proof={"user_agent": "", "ip": "", "gpc": True},
            actor=Actor.public(f"property:{prop.pk}"),
        ),
        pause_before="consent_record",
    )

    opt_outs = ConsentRecord.objects.filter(visitor_id="visitor-gpc-twice", state="denied")
    assert opt_outs.count() == prop.purposes.filter(sale_sharing=True).count() == 1
