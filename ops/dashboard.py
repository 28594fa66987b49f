"""The privacy officer's home page: what needs attention, in the viewer's regions only.
Each figure comes from its app's scoped selectors; this module only puts them together."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from audit.models import AuditAlert
from consent.stats import consent_rates_current, consent_rates_weekly
from dsar.selectors import manual_tasks_open, requests_dashboard
from profiles.selectors import match_reviews_pending

COLOURS = ["#264b5d", "#d97706", "#15803d", "#7c3aed", "#be123c", "#0891b2", "#4d7c0f"]
WIDTH, HEIGHT, PAD = 560, 180, 24


def _chart(weekly: dict[str, Any]) -> dict[str, Any]:
    """SVG polylines (0 to 100 % on the y axis) for the weekly grant-rate series."""
    weeks = weekly["weeks"]
    step = (WIDTH - 2 * PAD) / max(len(weeks) - 1, 1)
    lines = []
    for n, series in enumerate(weekly["series"]):
        points = [
            f"{PAD + i * step:.1f},{HEIGHT - PAD - (value / 100) * (HEIGHT - 2 * PAD):.1f}"
            for i, value in enumerate(series["points"])
            if value is not None
        ]
        lines.append(
            {
                "purpose": series["purpose"],
                "colour": COLOURS[n % len(COLOURS)],
                "points": " ".join(points),
                "last": next((v for v in reversed(series["points"]) if v is not None), None),
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "lines": lines,
        "first_week": weeks[0] if weeks else None,
        "last_week": weeks[-1] if weeks else None,
        "grid": [
            {"y": HEIGHT - PAD - p / 100 * (HEIGHT - 2 * PAD), "label": f"{p}%"}
            for p in (0, 50, 100)
        ],
    }


def workspace(*, who: Any, region: str | None = None) -> dict[str, Any]:
    user = getattr(who, "user", who)
    requests = requests_dashboard(who=who)
    alerts = (
        list(AuditAlert.objects.filter(acknowledged_at=None)[:5])
        if user.has_perm("audit.view_auditalert")
        else []
    )
    reviews = match_reviews_pending(who=who)
    consent_now = consent_rates_current(who=who)
    region = region if region in consent_now["regions"] else None
    return {
        "now": timezone.now(),
        "requests": requests,
        "manual_tasks": list(manual_tasks_open(who=who)[:10]),
        "alerts": alerts,
        "reviews_count": reviews.count(),
        "reviews": list(reviews.select_related("subject")[:5]),
        "consent_now": consent_now,
        "chart_region": region,
        "consent_chart": _chart(consent_rates_weekly(who=who, region=region)),
    }
