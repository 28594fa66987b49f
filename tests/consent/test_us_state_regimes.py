"""Every US comprehensive state privacy law as a regime: model, universal opt-out signals,
request deadlines and the date it takes effect (before it, the federal-only fallback)."""

import datetime as dt

import pytest

from audit.actors import Actor
from consent.models import Purpose
from consent.selectors import jurisdiction_for_region, may_process
from consent.services import Proof, consent_record
from dsar.deadlines import due_date, extension_period
from tests.factories import make_subject

pytestmark = pytest.mark.django_db
D = dt.date
ALL = ["sale", "targeted_advertising", "profiling"]
SALE_ADS = ["sale", "targeted_advertising"]

# region, code, effective, GPC required from, deadline days, extension days, opt-outs,
# sensitive data opt-in
STATES = [
    ("US-CA", "CCPA", D(2020, 1, 1), D(2020, 8, 14), 45, 45, SALE_ADS, False),
    ("US-VA", "VCDPA", D(2023, 1, 1), None, 45, 45, ALL, True),
    ("US-CO", "CPA", D(2023, 7, 1), D(2024, 7, 1), 45, 45, ALL, True),
    ("US-CT", "CTDPA", D(2023, 7, 1), D(2025, 1, 1), 45, 45, ALL, True),
    ("US-UT", "UCPA", D(2023, 12, 31), None, 45, 45, SALE_ADS, False),
    ("US-TX", "TDPSA", D(2024, 7, 1), D(2025, 1, 1), 45, 45, ALL, True),
    ("US-OR", "OCPA", D(2024, 7, 1), D(2026, 1, 1), 45, 45, ALL, True),
    ("US-MT", "MTCDPA", D(2024, 10, 1), D(2025, 1, 1), 45, 45, ALL, True),
    ("US-IA", "ICDPA", D(2025, 1, 1), None, 90, 45, SALE_ADS, False),
    ("US-DE", "DPDPA", D(2025, 1, 1), D(2026, 1, 1), 45, 45, ALL, True),
    ("US-NH", "NHPA", D(2025, 1, 1), D(2025, 1, 1), 45, 45, ALL, True),
    ("US-NJ", "NJDPA", D(2025, 1, 15), D(2025, 7, 15), 45, 45, ALL, True),
    ("US-NE", "NEDPA", D(2025, 1, 1), D(2025, 1, 1), 45, 45, ALL, True),
    ("US-TN", "TIPA", D(2025, 7, 1), None, 45, 45, ALL, True),
    ("US-MN", "MNCDPA", D(2025, 7, 31), D(2025, 7, 31), 45, 45, ALL, True),
    ("US-MD", "MODPA", D(2025, 10, 1), D(2025, 10, 1), 45, 45, ALL, True),
    ("US-IN", "INCDPA", D(2026, 1, 1), None, 45, 45, ALL, True),
    ("US-KY", "KCDPA", D(2026, 1, 1), None, 45, 45, ALL, True),
    ("US-RI", "RIDTPPA", D(2026, 1, 1), None, 45, 45, ALL, True),
]


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("region", "code", "effective", "gpc_from", "deadline", "extension", "opt_outs", "sensitive"),
    STATES,
    ids=[row[0] for row in STATES],
)
def test_state_law_is_a_regime_from_its_effective_date(
    region, code, effective, gpc_from, deadline, extension, opt_outs, sensitive
):
    regime = jurisdiction_for_region(region, _noon(effective))
    assert (regime.code, regime.consent_model) == (code, "opt_out")
    assert regime.statute
    assert regime.opt_out_rights == opt_outs
    assert regime.sensitive_opt_in is sensitive
    # Request deadlines: received at noon on the effective date.
    received = _noon(effective)
    assert due_date(regime, received) == received + dt.timedelta(days=deadline)
    assert received + extension_period(regime) == received + dt.timedelta(days=extension)
    # Universal opt-out signals: honoured exactly from the day the law requires them.
    if gpc_from is None:
        assert not regime.honours_gpc_on(D(2030, 1, 1))
    else:
        assert regime.honours_gpc_on(gpc_from)
        assert not regime.honours_gpc_on(gpc_from - dt.timedelta(days=1))
    # The day before, the federal-only fallback regime governs the region.
    before = jurisdiction_for_region(region, _noon(effective - dt.timedelta(days=1)))
    assert (before.code, before.honours_gpc) == ("US", False)


def test_every_us_state_with_a_law_is_a_known_region():
    from core.regions import KNOWN_REGIONS

    assert {row[0] for row in STATES} <= set(KNOWN_REGIONS)
    assert len(STATES) == 19


def test_point_in_time_decision_uses_the_regime_then_in_force():
    subject = make_subject(region="US-RI")
    purpose = Purpose.objects.get(slug="sale_sharing")
    before = may_process(subject=subject, purpose=purpose, at=_noon(D(2025, 12, 31)))
    after = may_process(subject=subject, purpose=purpose, at=_noon(D(2026, 1, 2)))
    assert (before.jurisdiction, after.jurisdiction) == ("US", "RIDTPPA")


def test_texan_gpc_opt_out_is_a_gpc_opt_out_of_sale():
    subject = make_subject(region="US-TX")
    purpose = Purpose.objects.get(slug="sale_sharing")
    consent_record(
        purpose=purpose,
        state="denied",
        channel="api",
        actor=Actor.system("tests"),
        subject=subject,
        proof=Proof(gpc=True),
    )
    decision = may_process(subject=subject, purpose=purpose)
    assert (decision.allowed, decision.reason, decision.jurisdiction) == (
        False,
        "gpc_opt_out",
        "TDPSA",
    )
