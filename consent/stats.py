"""Consent aggregates for dashboards (no personal data): grant rates per purpose and region,
now and week by week, always limited to the regions the viewer may see."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from access.scoping import Principal, allowed_regions
from consent.models import ConsentRecord, CurrentConsent, Purpose


def _may_view(who: Any) -> bool:
    user = Principal.of(who).user
    return bool(user and user.has_perm("consent.view_currentconsent"))


def _in_scope(rows, who: Any):
    regions = allowed_regions(who)
    return rows if regions is None else rows.filter(region__in=sorted(regions))


def consent_rates_current(*, who: Any) -> dict[str, Any]:
    """Share of people (subjects and visitors) currently granting each non-essential purpose,
    per region: {"regions": [...], "rows": [{"purpose", "name", "cells": [per region]}]}."""
    if not _may_view(who):
        return {"regions": [], "rows": []}
    counts = (
        _in_scope(CurrentConsent.objects.filter(purpose__essential=False), who)
        .values("purpose__slug", "region")
        .annotate(total=Count("pk"), granted=Count("pk", filter=Q(state="granted")))
    )
    cells: dict[str, dict[str, dict]] = defaultdict(dict)
    regions: set[str] = set()
    for row in counts:
        regions.add(row["region"])
        cells[row["purpose__slug"]][row["region"]] = {
            "total": row["total"],
            "rate": round(100 * row["granted"] / row["total"]) if row["total"] else None,
        }
    purposes = Purpose.objects.filter(essential=False).order_by("slug")
    ordered = sorted(regions)
    return {
        "regions": ordered,
        "rows": [
            {
                "purpose": p.slug,
                "name": p.name,
                "cells": [cells.get(p.slug, {}).get(region) for region in ordered],
            }
            for p in purposes
        ],
    }


def consent_rates_weekly(*, who: Any, weeks: int = 12, region: str | None = None) -> dict[str, Any]:
    """Week by week, the share of choices recorded that granted each purpose (ledger records
    from banners, the privacy center, the API and imports), in the viewer's regions, or in one
    of them (`region`; a region outside the viewer's scope shows nothing)."""
    if not _may_view(who):
        return {"weeks": [], "series": []}
    today = timezone.now()
    start = (today - dt.timedelta(weeks=weeks - 1)).replace(hour=0, minute=0, second=0)
    start -= dt.timedelta(days=start.weekday())
    rows = (
        _in_scope(
            ConsentRecord.objects.filter(recorded_at__gte=start, purpose__essential=False), who
        )
        .filter(**({"region": region} if region else {}))
        .annotate(week=TruncWeek("recorded_at"))
        .values("week", "purpose__slug")
        .annotate(total=Count("pk"), granted=Count("pk", filter=Q(state="granted")))
    )
    week_starts = [(start + dt.timedelta(weeks=n)).date() for n in range(weeks)]
    data: dict[str, dict[dt.date, int | None]] = defaultdict(dict)
    for row in rows:
        week = row["week"].date() if hasattr(row["week"], "date") else row["week"]
        data[row["purpose__slug"]][week] = round(100 * row["granted"] / row["total"])
    return {
        "weeks": week_starts,
        "series": [
            {"purpose": slug, "points": [data[slug].get(w) for w in week_starts]}
            for slug in sorted(data)
        ],
    }
