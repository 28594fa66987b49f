"""The demo script against a live hub with a real worker: the web shop's signed Segment calls
(identify, track, alias) are processed, the shop records newsletter answers, and the e-mail
tool's audience feed holds exactly the shopper who said yes (and the demo's other consented
people), never the one who said no or never answered."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import pytest

from activation import demo
from activation.models import InboxMessage
from audit.actors import Actor
from consent.models import Purpose
from consent.services import consent_record
from tests.factories import make_subject
from tests.workers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_send_events.py"


def _script():
    spec = importlib.util.spec_from_file_location("demo_send_events", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_script_sends_segment_events_and_the_feed_holds_only_consented_people(
    live_server, worker, regimes, roles, tmp_path, capsys
):
    make_subject(region="EU", email="silent.person@example.com")  # opt-in regime: no answer
    fan = make_subject(region="US-CA", email="fan@example.com")
    consent_record(
        purpose=Purpose.objects.get(slug="marketing_email"),
        state="granted",
        channel="api",
        actor=Actor.system("tests"),
        subject=fan,
    )
    path = tmp_path / "demo-sources.json"
    demo.seed(stdout=io.StringIO(), path=path)

    status = _script().main(["--config", str(path), "--url", live_server.url, "--timeout", "60"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Mia    in the feed: yes" in out
    assert "Jonas  in the feed: no" in out
    assert "Alex   in the feed: no" in out
    assert "the feed holds 2 people" in out
    wait_for(
        lambda: not InboxMessage.objects.exclude(status="done").exists(),
        timeout=30,
        message="every demo call processed",
    )
    assert InboxMessage.objects.count() == 9
    assert set(InboxMessage.objects.values_list("kind", flat=True)) == {
        "identify",
        "track",
        "alias",
    }
