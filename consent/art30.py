"""The record of processing activities (GDPR Art. 30) and what is read from the same register:
the record's rows and CSV, the data map of systems, and the activities a subject's access
export lists. Holds no personal data of subjects: no scoping needed."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from django.conf import settings

from consent.models import ProcessingActivity
from core.csvsafe import csv_writer

ART30_COLUMNS = [
    ("activity", "Processing activity"),
    ("controller", "Controller"),
    ("joint_controller", "Joint controller"),
    ("dpo_contact", "DPO contact"),
    ("purpose", "Purpose"),
    ("purpose_description", "Description"),
    ("lawful_basis", "Lawful basis"),
    ("subject_categories", "Categories of data subjects"),
    ("data_categories", "Categories of personal data"),
    ("recipients", "Recipients"),
    ("transfers", "Transfers to third countries (safeguards)"),
    ("retention", "Retention"),
    ("retention_days", "Retention (days)"),
    ("security_measures", "Security measures"),
    ("systems", "Systems"),
    ("datasets", "Datasets (categories)"),
    ("regions", "Regions"),
]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "; ".join(_item(v) for v in value)
    return str(value)


def _item(value: Any) -> str:
    if isinstance(value, dict) and "country" in value:
        return f"{value['country']} ({value['safeguard']})"
    if isinstance(value, dict) and "dataset" in value:
        return dataset_label(value)
    return str(value)


def dataset_label(dataset: dict[str, Any]) -> str:
    """`Store: Shop / customers (contact, identity)`: a system's dataset with its categories."""
    categories = ", ".join(dataset["categories"]) or "no personal data"
    return f"{dataset['system']} / {dataset['dataset']} ({categories})"


def system_datasets(systems: Any) -> list[dict[str, Any]]:
    """The datasets the systems declare (a connected store's approved tables), each with its
    system and categories, by system then dataset."""
    return [
        {"system": s.name, "dataset": d["name"], "categories": list(d.get("categories", []))}
        for s in sorted(systems, key=lambda s: s.name)
        for d in s.datasets or []
    ]


def art30_csv(rows: list[dict[str, Any]]) -> str:
    """`art30_record()` rows as CSV text with a header line."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow([title for _, title in ART30_COLUMNS])
    for row in rows:
        cells = {**row, "regions": row.get("regions") or "all"}
        writer.writerow([_cell(cells.get(key)) for key, _ in ART30_COLUMNS])
    return out.getvalue()


def processing_activities(*, include_inactive: bool = False):
    """The register's activities with their purpose and systems loaded; active ones only unless
    `include_inactive`."""
    activities = ProcessingActivity.objects.select_related("purpose").prefetch_related("systems")
    return activities if include_inactive else activities.filter(active=True)


def art30_record(*, include_inactive: bool = False) -> list[dict[str, Any]]:
    """The rows of the record of processing activities (GDPR Art. 30(1)(a)-(g)), one per
    activity, ordered by name. Holds no personal data of subjects: no scoping needed.

    Controller and DPO contact fall back to the CUSTODIA_CONTROLLER / CUSTODIA_DPO_CONTACT
    settings; the lawful basis to the purpose's."""
    return [
        {
            "activity": a.name,
            "controller": a.controller or settings.CUSTODIA_CONTROLLER,
            "joint_controller": a.joint_controller,
            "dpo_contact": a.dpo_contact or settings.CUSTODIA_DPO_CONTACT,
            "purpose": a.purpose.name,
            "purpose_description": a.description or a.purpose.description,
            "lawful_basis": a.effective_lawful_basis,
            "subject_categories": list(a.subject_categories),
            "data_categories": list(a.data_categories),
            "recipients": list(a.recipients),
            "transfers": [dict(t) for t in a.transfers],
            "retention": a.retention,
            "retention_days": a.retention_days,
            "security_measures": a.security_measures,
            "systems": sorted(s.name for s in a.systems.all()),
            "datasets": system_datasets(a.systems.all()),
            "regions": list(a.regions),
            "active": a.active,
        }
        for a in processing_activities(include_inactive=include_inactive)
    ]


# Apps above consent add what they know of a system to its data-map row (activation: a
# destination's purposes and how many people it may receive): called with the viewer (whose
# region scope applies to any count), they return {system id: {key: value}}.
DATA_MAP_EXTENSIONS: list[Callable[[Any], dict[int, dict[str, Any]]]] = []


def data_map(*, include_inactive: bool = False, who: Any = None) -> list[dict[str, Any]]:
    """Every System (sources first, then both, then destinations; by name) with the data
    categories it holds, the active activities using it and the recipients those activities
    name. Also flags categories an activity processes that none of its systems declares.
    Holds no personal data of subjects; with `who`, the DATA_MAP_EXTENSIONS add their facts
    (counts within `who`'s regions)."""
    from profiles.models import System

    order = {System.Kind.SOURCE: 0, System.Kind.BOTH: 1, System.Kind.DESTINATION: 2}
    by_system: dict[int, list[ProcessingActivity]] = {}
    for activity in processing_activities(include_inactive=include_inactive):
        for system in activity.systems.all():
            by_system.setdefault(system.pk, []).append(activity)
    extra: dict[int, dict[str, Any]] = {}
    for extension in DATA_MAP_EXTENSIONS if who is not None else []:
        for pk, facts in extension(who).items():
            extra.setdefault(pk, {}).update(facts)
    rows = []
    for system in sorted(System.objects.all(), key=lambda s: (order.get(s.kind, 3), s.name)):
        activities = by_system.get(system.pk, [])
        rows.append(
            {
                "system": system.name,
                "kind": system.kind,
                "country": system.country,
                "is_processor": system.is_processor,
                "owner_contact": system.owner_contact,
                "data_categories": list(system.data_categories),
                "datasets": [
                    {"dataset": d["name"], "categories": list(d.get("categories", []))}
                    for d in system.datasets or []
                ],
                "activities": [
                    {
                        "activity": a.name,
                        "purpose": a.purpose.name,
                        "lawful_basis": a.effective_lawful_basis,
                        "undeclared_categories": sorted(
                            set(a.data_categories)
                            - {c for s in a.systems.all() for c in s.data_categories}
                        ),
                    }
                    for a in activities
                ],
                "recipients": sorted({r for a in activities for r in a.recipients}),
                **extra.get(system.pk, {}),
            }
        )
    return rows


def processing_activities_for_subject(*, region: str) -> list[dict[str, Any]]:
    """For a data subject's access export (Art. 15(1)(a)-(e), 15(2)): each active activity
    applying to `region` (its regions list is empty or names it), by name, as plain
    JSON-serialisable dicts with exactly the keys activity, purpose, lawful_basis,
    data_categories, recipients, transfers, retention, systems. Reads no personal data."""
    return [
        {
            "activity": a.name,
            "purpose": a.purpose.name,
            "lawful_basis": a.effective_lawful_basis,
            "data_categories": list(a.data_categories),
            "recipients": list(a.recipients),
            "transfers": [dict(t) for t in a.transfers],
            "retention": a.retention,
            "systems": sorted(s.name for s in a.systems.all()),
        }
        for a in processing_activities()
        if a.applies_to(region)
    ]
