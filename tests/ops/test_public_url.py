"""The port the hub is served on reaches every link it prints or mails."""

import os
import subprocess
import sys

from tests.workers import ROOT


def _public_url(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "CUSTODIA_PUBLIC_URL"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; from django.conf import settings; django.setup(); "
            "print(settings.CUSTODIA_PUBLIC_URL)",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "settings.base", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_links_use_the_port_the_web_server_listens_on():
    assert _public_url(CUSTODIA_PORT="8123") == "http://127.0.0.1:8123"
    wildcard = _public_url(CUSTODIA_HOST="0.0.0.0", CUSTODIA_PORT="9000")  # noqa: S104
    assert wildcard == "http://127.0.0.1:9000"


def test_an_explicit_public_url_wins():
    url = _public_url(CUSTODIA_PORT="8123", CUSTODIA_PUBLIC_URL="https://privacy.example.com/")
    assert url == "https://privacy.example.com"
