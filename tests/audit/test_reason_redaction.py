"""An audit row outlives every erasure (the hash chain cannot forget a row), so the contact
details an officer types into a free-text reason ("called jane@example.org back") are never
stored in it: e-mail addresses and international phone numbers are replaced by what they were,
at the one door every append goes through; references and ticket numbers stay as typed."""

from __future__ import annotations

import pytest

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import reason_redacted
from audit.verify import verify_chain
from dsar.services import legal_hold_place
from tests.factories import make_subject


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (
            "jane.doe@example.org called from +44 20 7946 0958 about DSR-2026-000123",
            "[e-mail address] called from [phone number] about DSR-2026-000123",
        ),
        ("reply to <a.b+tag@sub.example.co.uk>; done", "reply to <[e-mail address]>; done"),
        ("call +33 (0)1 23 45 67 89 today", "call [phone number] today"),
        ("ticket INC0012345, litigation 2026-041, +1 555", None),
        ("2+2=4 @ desk", None),
    ],
)
def test_contact_details_in_a_reason_are_replaced_and_the_rest_kept(typed, stored):
    assert reason_redacted(typed) == (stored or typed)


@pytest.mark.django_db
def test_a_legal_hold_reason_naming_the_person_leaves_no_contact_detail_in_the_chain():
    subject = make_subject(region="EU")
    legal_hold_place(
        subject=subject,
        reason="claim by jane.doe@example.org (+44 20 7946 0958), case 2026-041",
        actor=Actor.system("tests"),
    )
    event = AuditEvent.objects.get(action="dsar.legal_hold.place")
    assert event.reason == "claim by [e-mail address] ([phone number]), case 2026-041"
    assert verify_chain().ok  # the chained value is the stored one
