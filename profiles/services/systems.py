"""The data map's systems: created or updated by the app that learns what a system holds
(connected stores declare the categories of their approved datasets)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.actors import Actor
from audit.services import audit_record
from profiles.models import System


def system_declare(
    *,
    name: str,
    categories: list[str],
    description: str,
    actor: Actor,
    system: System | None,
    datasets: list[dict[str, Any]] | None = None,
) -> System:
    """Create `system` (named `name`) if missing and set the data categories it holds, its
    datasets with their categories (when given) and its description; audited with field names
    only. One transaction."""
    with transaction.atomic():
        creating = system is None
        if system is None:
            system, _ = System.objects.get_or_create(name=name, defaults={"kind": "source"})
        system.data_categories = sorted(set(categories))
        system.description = description
        fields = ["data_categories", "description"]
        if datasets is not None:
            system.datasets = datasets
            fields.append("datasets")
        system.save(update_fields=fields)
        audit_record(
            actor=actor,
            action=f"profiles.system.{'create' if creating else 'update'}",
            object_type="profiles.system",
            object_id=system.pk,
            fields=fields,
        )
    return system
