"""The CSV files of an access archive defuse cells a spreadsheet would run as a formula; the
JSON file keeps the exact values."""

import csv
import io
import json
import zipfile

from audit.actors import Actor
from dsar import archive as archives
from dsar import services
from tests.factories import make_subject

FORMULA = '=HYPERLINK("http://evil.example/","Click")'


def test_the_archive_csv_files_defuse_formulas_and_the_json_keeps_the_value():
    subject = make_subject(region="EU", name=FORMULA, nickname="@admin")
    dsr, _ = services.request_create(
        kind="access",
        channel="api",
        actor=Actor.system("tests"),
        subject=subject,
        verification="service",
    )
    files = zipfile.ZipFile(io.BytesIO(archives.package(archives.collect(dsr))))
    profile = list(csv.DictReader(io.StringIO(files.read("profile.csv").decode())))
    values = {row["name"]: row["value"] for row in profile}
    assert values["name"] == "'" + FORMULA
    assert values["nickname"] == "'@admin"
    data = json.loads(files.read("data.json"))
    assert {a["key"]: a["value"] for a in data["attributes"]}["name"] == FORMULA


def _rows(files: zipfile.ZipFile, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(files.read(name).decode())))


def test_header_cells_from_people_are_defused_too():
    # A connected store's column names come from whoever made its tables, not from us.
    subject = make_subject(region="EU", events=1)
    dsr, _ = services.request_create(
        kind="access",
        channel="api",
        actor=Actor.system("tests"),
        subject=subject,
        verification="service",
    )
    data = archives.collect(dsr)
    data["stores"] = {"Shop": {"customers": [{FORMULA: "a", "note": "-1+2"}, {"id": 7}]}}
    files = zipfile.ZipFile(io.BytesIO(archives.package(data)))
    header, *rows = _rows(files, "stores/Shop/customers.csv")
    assert header == ["'" + FORMULA, "note", "id"]
    assert rows == [["a", "'-1+2", ""], ["", "", "7"]]
    for name in files.namelist():
        if name.endswith(".csv"):
            cells = [cell for row in _rows(files, name) for cell in row]
            assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], name


def test_an_event_is_written_to_data_json_as_the_json_encoder_writes_it():
    """The export writes the common event from a template (its hot loop): the text must be what
    the JSON encoder writes, quotes, control characters and non-ASCII text included."""
    import json

    from dsar.archive import _JSON, _event_json
    from profiles.selectors import RawJSON

    tricky = 'a "quoted" \\ back\nslash é \u2028 \x00 =cmd'
    for source in (tricky, None):
        event = {
            "name": tricky,
            "occurred_at": "2025-01-01T00:00:00+00:00",
            "category": "behavioral",
            "source": source,
            "payload": RawJSON('{"n": 1}'),
        }
        expected = _JSON.encode({k: v for k, v in event.items() if k != "payload"})
        assert _event_json(event) == f'{expected[:-1]}, "payload": {{"n": 1}}}}'
        assert json.loads(_event_json(event)) == {**event, "payload": {"n": 1}}
