"""Every period an officer types as a count of days, months or hours is at most a century:
date arithmetic on it (a cutoff before now, an expiry after a consent, a deadline, a
callback's timeout) then stays within the years a datetime holds, instead of raising on the
saved value in the admin, the banner, beat or a request's step."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from consent.models import Jurisdiction, RetentionPolicy
from core.periods import MAX_DAYS, MAX_HOURS, MAX_MONTHS
from dsar.models import RetentionException, SystemConnector

PERIODS = [
    (Jurisdiction, "consent_max_age_days", MAX_DAYS),
    (Jurisdiction, "dsar_deadline_days", MAX_DAYS),
    (Jurisdiction, "dsar_deadline_months", MAX_MONTHS),
    (Jurisdiction, "dsar_extension_days", MAX_DAYS),
    (Jurisdiction, "dsar_extension_months", MAX_MONTHS),
    (RetentionPolicy, "max_age_days", MAX_DAYS),
    (RetentionException, "keep_days", MAX_DAYS),
    (SystemConnector, "callback_timeout_hours", MAX_HOURS),
]


@pytest.mark.parametrize(("model", "name", "limit"), PERIODS)
def test_a_period_is_at_most_a_century(model, name, limit):
    field = model._meta.get_field(name)
    assert field.clean(limit, model()) == limit
    with pytest.raises(ValidationError):
        field.clean(limit + 1, model())


def test_a_century_either_way_stays_within_the_years_a_datetime_holds():
    now = timezone.now()
    assert (now - dt.timedelta(days=MAX_DAYS)).year > 1
    assert (now + dt.timedelta(hours=MAX_HOURS) + dt.timedelta(days=MAX_DAYS)).year < 9999
