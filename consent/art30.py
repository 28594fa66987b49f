"""The Art. 30 record as CSV: one row per processing activity, lists joined with '; '."""

from __future__ import annotations

import csv
import io
from typing import Any

from audit.csvsafe import csv_cell

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
    ("regions", "Regions"),
]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = "; ".join(
            f"{v['country']} ({v['safeguard']})" if isinstance(v, dict) else str(v) for v in value
        )
    return csv_cell(str(value))


def art30_csv(rows: list[dict[str, Any]]) -> str:
    """`consent.selectors.art30_record()` rows as CSV text with a header line."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title in ART30_COLUMNS])
    for row in rows:
        cells = {**row, "regions": row.get("regions") or "all"}
        writer.writerow([_cell(cells.get(key)) for key, _ in ART30_COLUMNS])
    return out.getvalue()
