"""A subject's life in one list, newest first: what they did (event names, never payloads),
what they chose (consent ledger), what they asked (requests), merges, and who accessed their
data. Each part only for viewers whose role may see it; the subject must be in scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

from audit.actors import Actor
from audit.selectors import subject_access_history
from audit.services import audit_subject_action
from consent.models import ConsentRecord
from dsar.selectors import request_list
from profiles.models import Event
from profiles.selectors import subject_get, subject_lineage

LIMIT = 300


def subject_timeline(*, who: Any, subject_id: Any, actor: Actor) -> dict[str, Any]:
    """NotFoundError outside the viewer's scope. Audited as one read of the parts shown."""
    subject = subject_get(who=who, subject_id=subject_id)
    user = getattr(who, "user", who)
    entries: list[dict[str, Any]] = []
    shown = []
    if user.has_perm("profiles.view_event"):
        shown.append("events")
        for name, category, source, at in (
            Event.objects.filter(subject=subject)
            .order_by("-occurred_at")
            .values_list("name", "category", "source__name", "occurred_at")[:LIMIT]
        ):
            detail = f"{category}, from {source}" if source else category
            entries.append({"at": at, "kind": "event", "text": name, "detail": detail})
    if user.has_perm("consent.view_consentrecord"):
        shown.append("consent")
        for slug, state, channel, gpc, at in (
            ConsentRecord.objects.filter(subject=subject)
            .order_by("-recorded_at")
            .values_list("purpose__slug", "state", "channel", "gpc", "recorded_at")[:LIMIT]
        ):
            detail = f"via {channel}" + (" (GPC signal)" if gpc else "")
            entries.append(
                {"at": at, "kind": "consent", "text": f"{slug}: {state}", "detail": detail}
            )
    for request in request_list(who=who).filter(subject=subject):
        entries.append(
            {
                "at": request.received_at,
                "kind": "request",
                "text": f"{request.get_kind_display()} {request.reference}",
                "detail": request.get_status_display(),
                "request": request.pk,
            }
        )
    for merge in subject_lineage(subject=subject):
        entries.append(
            {
                "at": dt.datetime.fromisoformat(merge["merged_at"]),
                "kind": "merge",
                "text": f"merged {merge['merged_subject_id']}",
                "detail": f"{merge['method']}, confidence {merge['confidence']}",
            }
        )
    if user.has_perm("audit.view_auditevent"):
        shown.append("access_history")
        for row in subject_access_history(subject_id=subject.pk)[-LIMIT:]:
            entries.append(
                {
                    "at": dt.datetime.fromisoformat(row["time"]),
                    "kind": "access",
                    "text": f"{row['actor']}: {row['action']}",
                    "detail": ", ".join(row["fields"]) or row["reason"],
                }
            )
    audit_subject_action(
        actor=actor,
        action="profiles.subject.timeline",
        subject=subject,
        fields=shown,
    )
    entries.sort(key=lambda e: e["at"], reverse=True)
    return {"subject": subject, "entries": entries}
