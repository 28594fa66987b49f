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
