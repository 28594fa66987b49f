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
