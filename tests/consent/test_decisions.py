"""may_process: regime defaults, explicit choices, GPC, expiry and point-in-time answers."""

import datetime as dt

import pytest
from django.utils import timezone

from audit.actors import Actor
from consent.models import ConsentRecord, Notice, Purpose
from consent.selectors import Reason, may_process
from consent.services import Proof, consent_record
from tests.factories import make_subject

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def _purpose(slug: str) -> Purpose:
    return Purpose.objects.get(slug=slug)


def _record(subject, slug, state, **kwargs):
    return consent_record(
        purpose=_purpose(slug), state=state, channel="api", actor=SYSTEM, subject=subject, **kwargs
    )


def test_gdpr_subject_without_consent_may_not_be_emailed():
    decision = may_process(subject=make_subject(region="EU"), purpose=_purpose("marketing_email"))
    assert not decision.allowed
    assert decision.reason == Reason.NOT_YET_COLLECTED
    assert decision.jurisdiction == "GDPR"


def test_californian_without_a_choice_may_be_processed_under_the_opt_out_model():
    decision = may_process(subject=make_subject(region="US-CA"), purpose=_purpose("sale_sharing"))
    assert decision.allowed
    assert decision.reason == Reason.REGIME_DEFAULT


def test_essential_purposes_are_always_allowed():
    assert (
        may_process(subject=make_subject(region="BR"), purpose=_purpose("essential")).reason
        == Reason.ESSENTIAL
    )


def test_explicit_grant_allows_and_withdrawal_stops_from_then_on():
    subject = make_subject(region="EU")
    grant = _record(subject, "analytics", "granted")
    assert (
        may_process(subject=subject, purpose=_purpose("analytics")).reason == Reason.EXPLICIT_GRANT
    )
    _record(subject, "analytics", "withdrawn")
    now = may_process(subject=subject, purpose=_purpose("analytics"))
    assert (now.allowed, now.reason) == (False, Reason.WITHDRAWN)
    # Art. 7(3): processing before the withdrawal stays lawful, and the ledger can say so.
    before = may_process(subject=subject, purpose=_purpose("analytics"), at=grant.recorded_at)
    assert (before.allowed, before.record_id) == (True, str(grant.pk))


def test_gpc_signal_opts_out_californian_of_sale():
    subject = make_subject(region="US-CA")
    _record(subject, "sale_sharing", "denied", proof=Proof(gpc=True, user_agent="Firefox"))
    decision = may_process(subject=subject, purpose=_purpose("sale_sharing"))
    assert (decision.allowed, decision.reason) == (False, Reason.GPC_OPT_OUT)


def test_consent_older_than_the_regime_maximum_age_counts_as_expired():
    subject = make_subject(region="EU")
    _record(
        subject, "personalization", "granted", recorded_at=timezone.now() - dt.timedelta(days=400)
    )
    decision = may_process(subject=subject, purpose=_purpose("personalization"))
    assert (decision.allowed, decision.reason) == (False, Reason.EXPIRED)


def test_essential_purposes_cannot_be_refused():
    from consent.services import ConsentError

    with pytest.raises(ConsentError):
        _record(make_subject(), "essential", "denied")


def test_a_record_points_at_the_exact_notice_version_shown():
    notice = Notice.objects.create(language="en", version=3, title="Privacy notice", text="...")
    notice.purposes.add(_purpose("analytics"))
    record = _record(make_subject(), "analytics", "granted", notice=notice)
    assert ConsentRecord.objects.get(pk=record.pk).notice.version == 3
