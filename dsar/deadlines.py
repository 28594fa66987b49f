"""Request deadlines from the jurisdiction's regime (consent.Jurisdiction holds them in months
or days, as the law states them: GDPR one month + two, CCPA 45 + 45 days, ...)."""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta

# When a regime has no seeded deadline, answer within a month (the strictest common rule).
FALLBACK = relativedelta(months=1)


def response_period(jurisdiction) -> relativedelta:
    months = jurisdiction.dsar_deadline_months if jurisdiction else 0
    days = jurisdiction.dsar_deadline_days if jurisdiction else 0
    return relativedelta(months=months, days=days) if (months or days) else FALLBACK


def extension_period(jurisdiction) -> relativedelta | None:
    """None when the regime allows no extension (e.g. LGPD's 15 days)."""
    months = jurisdiction.dsar_extension_months if jurisdiction else 0
    days = jurisdiction.dsar_extension_days if jurisdiction else 0
    return relativedelta(months=months, days=days) if (months or days) else None


def due_date(jurisdiction, received_at: dt.datetime) -> dt.datetime:
    """Received on 31 January, one month -> 28/29 February (calendar months, as Art. 12(3) is
    read by the EDPB: the same day next month, or the month's last day)."""
    return received_at + response_period(jurisdiction)


def deadline_state(due_at: dt.datetime, now: dt.datetime, *, soon_days: int = 7) -> str:
    """'overdue', 'due_soon' or 'on_track', for highlighting in the admin and API."""
    if due_at <= now:
        return "overdue"
    if due_at - now <= dt.timedelta(days=soon_days):
        return "due_soon"
    return "on_track"


def period(days: int) -> str:
    """A retention period as the law states it: `10 years`, `6 months`, `45 days`."""
    for unit, length in (("year", 365), ("month", 30)):
        count, rest = divmod(days, length)
        # Leap days and 31-day months: 3,652 days are still "10 years".
        if count and rest <= count * (3 if unit == "year" else 1):
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"
