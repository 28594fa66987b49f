"""Two `?since=` syncs of one destination at once (two pollers, a retry) add a person once:
the second waits for the first and reads what it wrote. PostgreSQL: SQLite's write
transactions run one at a time anyway."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.conf import settings
from django.db import connection

from access.scoping import Principal
from activation import selectors, services
from activation.models import AudienceChange, Destination
from audit.actors import Actor
from consent.models import Purpose
from consent.services import consent_record
from profiles.models import System
from tests.factories import make_subject, make_token

pytestmark = [
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="concurrent transactions: PostgreSQL",
    ),
    pytest.mark.django_db(transaction=True),
]


def test_two_syncs_at_once_add_a_person_once(regimes, monkeypatch):
    token, _ = make_token(["destinations:read"])
    system = System.objects.create(name="Mailer", kind=System.Kind.DESTINATION)
    destination = Destination.objects.create(system=system, token=token)
    destination.purposes.set(Purpose.objects.filter(slug="marketing_email"))
    person = make_subject(region="EU")
    consent_record(
        purpose=Purpose.objects.get(slug="marketing_email"),
        state="granted",
        channel="api",
        actor=Actor.system("tests"),
        subject=person,
    )
    # Each sync, once it has read the audience, waits (up to 2 s) for the other to have read
    # it too: without the destination's lock both read "not a member yet" and both add.
    both_read = threading.Barrier(2, timeout=2)
    audience_all = selectors.audience_all

    def read_then_wait(**kwargs):
        allowed = audience_all(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):  # the other waits for the lock
            both_read.wait()
        return allowed

    monkeypatch.setattr(selectors, "audience_all", read_then_wait)
    errors = []

    def sync():
        try:
            services.audience_sync(
                who=Principal(user=token.user, token=token), destination=destination
            )
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    added = AudienceChange.objects.filter(destination=destination, change="added")
    assert list(added.values_list("subject_id", flat=True)) == [person.pk]
