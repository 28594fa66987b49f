"""docs/operations.md lists every environment variable the hub reads ("Every variable is listed
in docs/operations.md", README), so an operator can configure it from that page alone."""

import re

from tests.workers import ROOT

OPERATIONS = (ROOT / "docs" / "operations.md").read_text()


def _read_by_settings() -> set[str]:
    source = "".join(path.read_text() for path in (ROOT / "settings").glob("*.py"))
    parsers = re.findall(r'env_(?:str|bool|int|float|list)\(\s*"([A-Z][A-Z0-9_]+)"', source)
    secrets = re.findall(r'_secret\("([A-Z][A-Z0-9_]+)"\)', source)
    return set(parsers) | set(secrets)


def _read_by_procfile() -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "Procfile").read_text()))


def test_the_parsers_are_found():
    assert {"DATABASE_URL", "CUSTODIA_KEYS", "LOG_LEVEL"} <= _read_by_settings()


def test_every_variable_the_settings_read_is_documented():
    undocumented = sorted(n for n in _read_by_settings() if f"`{n}`" not in OPERATIONS)
    assert undocumented == []


def test_every_variable_the_procfile_reads_is_documented():
    undocumented = sorted(n for n in _read_by_procfile() if f"`{n}`" not in OPERATIONS)
    assert undocumented == []
