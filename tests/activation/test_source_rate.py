"""A source's rate is one the webhook's limiter reads: the admin refuses any other (a rate such
as "fast" or "²/min" was saved, then every signed call of the source was a 500)."""

from __future__ import annotations

import pytest

from activation.models import SourceEndpoint
from profiles.models import System
from tests.activation.test_source_webhooks import IDENTIFY, post
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def _form(system, rate):
    return {
        "system": system.pk,
        "format": "segment",
        "regions": '["EU"]',
        "rate": rate,
        "tolerance_seconds": 300,
        "active": "on",
        "mapping": "{}",
        "sample": "",
    }


@pytest.mark.parametrize("rate", ["fast", "0/min", "²/min", "10/fortnight", "10"])
def test_the_admin_refuses_a_rate_the_limiter_cannot_read(client, roles, rate):
    client.force_login(make_staff("DPO"))
    system = System.objects.create(name="Shop", kind=System.Kind.SOURCE)
    response = client.post("/admin/activation/sourceendpoint/add/", _form(system, rate))
    assert response.status_code == 200
    assert "e.g. 600/min" in response.content.decode()
    assert not SourceEndpoint.objects.exists()


def test_a_rate_the_admin_saved_serves_the_webhook(api, client, roles):
    client.force_login(make_staff("DPO"))
    system = System.objects.create(name="Shop", kind=System.Kind.SOURCE)
    response = client.post("/admin/activation/sourceendpoint/add/", _form(system, " 20/hour "))
    assert response.status_code == 302
    source = SourceEndpoint.objects.get()
    assert source.rate == "20/hour"
    assert post(api, source, IDENTIFY).status_code == 202


def test_a_very_high_rate_is_a_rate():
    """A source effectively unlimited ("1000000000/second", as the benchmark's) stays readable:
    refusing it made every call of such a source a 500."""
    from consent.api.throttles import parse_rate

    assert parse_rate("1000000000/second") == (1_000_000_000, 1e9)


@pytest.mark.parametrize("stored", ["fast", "²/min", "0/min", ""])
@pytest.mark.parametrize("accept", ["*/*", "application/json; indent=2"])  # lean path, DRF's
def test_a_source_whose_stored_rate_is_unreadable_is_served_at_the_default_rate(
    api, caplog, stored, accept
):
    """A rate saved before the admin checked rates (or by a raw UPDATE) made every signed call
    of the source a 500: the default rate applies, and the log names the source, not the text
    stored nor anything of the call."""
    system = System.objects.create(name="Shop", kind=System.Kind.SOURCE)
    source = SourceEndpoint.objects.create(system=system, regions=["EU"])
    SourceEndpoint.objects.filter(pk=source.pk).update(rate=stored)
    api.credentials(HTTP_ACCEPT=accept)

    with caplog.at_level("WARNING", logger="activation.api.views"):
        response = post(api, source, IDENTIFY)

    assert response.status_code == 202, response.content
    [line] = [r.getMessage() for r in caplog.records if r.name == "activation.api.views"]
    assert line == f"source {source.pk} has an unreadable rate: the default 600/min applies"
    for personal in ("Nina", "Weber", "u-100", "anon-1"):
        assert personal not in caplog.text
