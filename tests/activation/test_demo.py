"""The demo's sources and destinations: `seed_demo` gives the web shop a Segment webhook and
binds the e-mail tool to `marketing_email`, and records what the demo script needs (mode 0600);
a second run keeps the same endpoint, destination and tokens."""

from __future__ import annotations

import io
import json

import pytest

from activation import demo
from activation.models import Destination, SourceEndpoint
from profiles.models import System

pytestmark = pytest.mark.django_db


def test_seed_creates_the_web_shop_source_and_the_e_mail_tool_destination(regimes, roles, tmp_path):
    path = tmp_path / "demo-sources.json"
    first = demo.seed(stdout=io.StringIO(), path=path)
    second = demo.seed(stdout=io.StringIO(), path=path)
    source = SourceEndpoint.objects.get(system__name="Web shop")
    assert source.format == "segment"
    assert source.regions == ["EU"]
    destination = Destination.objects.get(system__name="E-mail platform")
    assert destination.system.kind == System.Kind.DESTINATION
    assert [p.slug for p in destination.purposes.all()] == ["marketing_email"]
    assert destination.token_id == first["destination_token"]["id"]
    assert destination.token.scopes == ["destinations:read"]
    assert first == second
    assert SourceEndpoint.objects.count() == Destination.objects.count() == 1
    assert json.loads(path.read_text())["source"]["secret"] == source.secret
    assert path.stat().st_mode & 0o777 == 0o600
