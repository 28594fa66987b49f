"""Public API rate limits: the client address is the socket's unless trusted proxies are
configured; a token bucket per (property key, client) and a higher ceiling per key, so one
anonymous client cannot shut a property out."""

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import RequestFactory

from audit.actors import client_ip
from consent.api.throttles import client_bucket_id
from consent.models import ConsentProperty, ConsentRecord, Purpose

pytestmark = pytest.mark.django_db
KEY = "pk_limits"


@pytest.fixture
def prop():
    p = ConsentProperty.objects.create(name="Shop", publishable_key=KEY)
    p.purposes.set(Purpose.objects.all())
    cache.clear()
    yield p
    cache.clear()


def _meta(remote: str, forwarded: str | None = None) -> dict:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return meta


def _config(client, remote: str, forwarded: str | None = None):
    return client.get("/api/v1/consent/public/config/", {"key": KEY}, **_meta(remote, forwarded))


def _save(client, remote: str, visitor: str = "visitor-0001"):
    return client.post(
        f"/api/v1/consent/public/consents/?key={KEY}",
        {"visitor_id": visitor, "region": "EU", "choices": {"analytics": "granted"}},
        content_type="application/json",
        **_meta(remote),
    )


def _intake(client, remote: str, forwarded: str | None = None, n: int = 0):
    return client.post(
        f"/api/v1/dsar/intake/?key={KEY}",
        {"kind": "access", "email": f"person{n}@example.com", "region": "EU"},
        content_type="application/json",
        **_meta(remote, forwarded),
    )


# --- which address is the client's ------------------------------------------------------


def _ip(settings, trusted: int, remote: str, forwarded: str | None) -> str:
    settings.CUSTODIA_TRUSTED_PROXIES = trusted
    return client_ip(RequestFactory().get("/", **_meta(remote, forwarded)))


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings):
    assert _ip(settings, 0, "203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_behind_one_proxy_the_client_is_the_rightmost_forwarded_address(settings):
    # The client wrote "6.6.6.6" itself; our proxy appended the address it saw.
    assert _ip(settings, 1, "10.0.0.2", "6.6.6.6, 198.51.100.7") == "198.51.100.7"


def test_behind_two_proxies_the_client_is_two_hops_from_the_right(settings):
    assert _ip(settings, 2, "10.0.0.3", "6.6.6.6, 198.51.100.7, 10.0.0.2") == "198.51.100.7"


@pytest.mark.parametrize("forwarded", [None, "", "not-an-address", "198.51.100.7"])
def test_a_missing_short_or_malformed_header_falls_back_to_the_socket(settings, forwarded):
    trusted = 2 if forwarded == "198.51.100.7" else 1
    assert _ip(settings, trusted, "10.0.0.2", forwarded) == "10.0.0.2"


def test_the_consent_proof_records_the_forwarded_client_only_behind_a_trusted_proxy(
    client, prop, settings
):
    settings.CUSTODIA_TRUSTED_PROXIES = 1
    client.post(
        f"/api/v1/consent/public/consents/?key={KEY}",
        {"visitor_id": "visitor-0001", "region": "EU", "choices": {"analytics": "granted"}},
        content_type="application/json",
        **_meta("10.0.0.2", "6.6.6.6, 198.51.100.7"),
    )
    assert ConsentRecord.objects.get().ip_truncated == "198.51.100.0"


# --- the intake limit cannot be dodged by writing the header --------------------------


def test_rotating_x_forwarded_for_does_not_get_past_the_intake_limit(client, prop, settings):
    settings.CUSTODIA_INTAKE_RATE = "3/hour"
    statuses = [
        _intake(client, "203.0.113.9", forwarded=f"198.51.100.{n}", n=n).status_code
        for n in range(6)
    ]
    assert statuses == [202, 202, 202, 429, 429, 429]
    assert len(mail.outbox) == 3


def test_behind_a_trusted_proxy_two_clients_have_their_own_intake_limit(client, prop, settings):
    settings.CUSTODIA_TRUSTED_PROXIES = 1
    settings.CUSTODIA_INTAKE_RATE = "2/hour"
    first = [
        _intake(client, "10.0.0.2", f"6.6.6.{n}, 198.51.100.1", n).status_code for n in range(3)
    ]
    second = _intake(client, "10.0.0.2", "198.51.100.2", 9).status_code
    assert first == [202, 202, 429]
    assert second == 202


# --- one client cannot shut the property out -------------------------------------------


def test_one_client_exhausts_its_bucket_while_another_on_the_same_key_still_gets_through(
    client, prop, settings
):
    settings.CUSTODIA_PUBLIC_CLIENT_RATE = "3/min"
    assert [_config(client, "203.0.113.9").status_code for _ in range(4)] == [200, 200, 200, 429]
    limited = _save(client, "203.0.113.9")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited["Retry-After"]) > 0
    assert _config(client, "198.51.100.20").status_code == 200
    assert _save(client, "198.51.100.20", visitor="visitor-0002").status_code == 200
    assert _intake(client, "198.51.100.21").status_code == 202


def test_a_banner_write_takes_one_token_whichever_path_answers_it(client, prop, settings):
    """The common write is answered on a lean path, anything else (here an unknown purpose,
    found after the tokens were taken) by DRF's dispatch: each call still takes one token, and
    the refusal is worded as everywhere (429, Retry-After; 400 unknown_purpose)."""
    settings.CUSTODIA_PUBLIC_CLIENT_RATE = "3/min"
    unknown = client.post(
        f"/api/v1/consent/public/consents/?key={KEY}",
        {"visitor_id": "visitor-0009", "region": "EU", "choices": {"nosuch": "granted"}},
        content_type="application/json",
        **_meta("203.0.113.7"),
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unknown_purpose"
    saved = [_save(client, "203.0.113.7", visitor=f"visitor-001{n}") for n in range(3)]
    assert [r.status_code for r in saved] == [200, 200, 429]
    assert saved[0]["Cache-Control"] == "no-store"
    assert saved[0]["Vary"] == "Origin"
    assert saved[2].json()["error"]["code"] == "rate_limited"
    assert int(saved[2]["Retry-After"]) > 0
    assert ConsentRecord.objects.filter(visitor_id__startswith="visitor-00").count() == 2


def test_a_client_refused_by_its_own_bucket_does_not_drain_the_keys_ceiling(client, prop, settings):
    settings.CUSTODIA_PUBLIC_CLIENT_RATE = "2/min"
    settings.CUSTODIA_PUBLIC_KEY_RATE = "5/min"
    hammering = [_config(client, "203.0.113.9").status_code for _ in range(20)]
    assert hammering.count(200) == 2
    others = [_config(client, f"198.51.100.{n}").status_code for n in range(1, 5)]
    assert others == [200, 200, 200, 429]  # 2 + 3 = the key's ceiling of 5


def test_addresses_of_one_ipv6_subscriber_share_one_bucket():
    assert client_bucket_id("2001:db8:1:2::1") == client_bucket_id("2001:db8:1:2:ffff::9")
    assert client_bucket_id("2001:db8:1:3::1") != client_bucket_id("2001:db8:1:2::1")
    assert client_bucket_id("198.51.100.7") == "198.51.100.7"
