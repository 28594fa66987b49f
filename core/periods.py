"""Bounds of the periods an officer types as a count of days, months or hours (a retention
period, a consent's lifetime, a DSAR deadline, a legal hold, a callback timeout).

Date arithmetic on an unbounded count overflows: 1,000,000 days before today is before year 1,
so the cutoff or expiry computed from such a value raised (a 500 in the admin, a beat task or a
request's step failing on every run). A century is longer than any law asks data be kept."""

from __future__ import annotations

from django.core.validators import MaxValueValidator

MAX_DAYS = 36_525  # 100 years
MAX_MONTHS = 1_200
MAX_HOURS = 24 * MAX_DAYS

at_most_days = MaxValueValidator(MAX_DAYS, message="At most %(limit_value)s days (100 years).")
at_most_months = MaxValueValidator(
    MAX_MONTHS, message="At most %(limit_value)s months (100 years)."
)
at_most_hours = MaxValueValidator(MAX_HOURS, message="At most %(limit_value)s hours (100 years).")
