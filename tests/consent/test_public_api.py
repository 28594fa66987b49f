"""The public banner API: property keys, CORS to the property's origins, GPC, rate limits."""

import json

import pytest
from django.core.cache import cache
from django.test import override_settings

from consent.models import ConsentProperty, ConsentRecord, CurrentConsent, Purpose
from tests.faults import free_port

pytestmark = pytest.mark.django_db
ORIGIN = "https://shop.example.com"


@pytest.fixture
def prop():
    p = ConsentProperty.objects.create(
        name="Shop", publishable_key="pk_test_shop", allowed_origins=[ORIGIN]
    )
    p.purposes.set(Purpose.objects.all())
    cache.clear()
    return p


def _config(client, **extra):
    params = {"key": "pk_test_shop", "visitor": "visitor-0001", **extra.pop("params", {})}
    return client.get("/api/v1/consent/public/config/", params, HTTP_ORIGIN=ORIGIN, **extra)


def _save(client, choices, region="EU", **extra):
    return client.post(
        "/api/v1/consent/public/consents/?key=pk_test_shop",
        {"visitor_id": "visitor-0001", "region": region, "choices": choices},
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        **extra,
    )


def test_config_gives_regime_purposes_and_cors_for_the_property_origin(client, prop):
    response = _config(client, params={"region": "EU"})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    body = response.json()
    assert body["jurisdiction"]["code"] == "GDPR"
    defaults = {p["slug"]: p["default"] for p in body["purposes"]}
    assert defaults["analytics"] == "denied"
    assert defaults["essential"] == "granted"


def _config_post(client, body, content_type="text/plain;charset=UTF-8", region="EU"):
    """The banner's call: the visitor id in a text/plain JSON body (no CORS preflight)."""
    return client.post(
        f"/api/v1/consent/public/config/?key=pk_test_shop&region={region}",
        body if isinstance(body, str) else json.dumps(body),
        content_type=content_type,
        HTTP_ORIGIN=ORIGIN,
    )


def test_the_banner_posts_the_visitor_id_in_the_body_and_gets_their_choices(client, prop):
    """The visitor id stays out of URLs (web-server and proxy logs): the config is POSTed,
    as text/plain so the browser sends it without a preflight, or as JSON."""
    assert _save(client, {"analytics": "granted"}).status_code == 200
    for content_type in ("text/plain;charset=UTF-8", "application/json"):
        response = _config_post(client, {"visitor_id": "visitor-0001"}, content_type)
        assert response.status_code == 200, response.content
        assert response["Access-Control-Allow-Origin"] == ORIGIN
        assert "Deprecation" not in response
        assert response.json()["current"]["analytics"]["state"] == "granted"
    anonymous = _config_post(client, "")
    assert anonymous.status_code == 200
    assert not anonymous.json()["current"]


@pytest.mark.parametrize(
    "body", ['{"visitor_id": "short"}', '{"visitor_id": 12345678}', "{", "null", "[]", '"x"']
)
def test_a_malformed_visitor_id_or_body_in_the_config_post_is_a_clear_400(client, prop, body):
    response = _config_post(client, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid", "malformed_request")


def test_the_visitor_id_in_the_query_still_works_but_is_marked_deprecated(client, prop):
    """Copies of the banner made before keep working until they are refreshed."""
    assert _save(client, {"analytics": "granted"}).status_code == 200
    response = _config(client, params={"region": "EU"})
    assert response.status_code == 200
    assert response["Deprecation"] == "true"
    assert response.json()["current"]["analytics"]["state"] == "granted"


def test_californian_defaults_follow_the_opt_out_model(client, prop):
    body = _config(client, params={"region": "US-CA"}).json()
    assert {p["slug"]: p["default"] for p in body["purposes"]}["sale_sharing"] == "granted"


def test_another_origin_is_refused_and_gets_no_cors_headers(client, prop):
    response = client.get(
        "/api/v1/consent/public/config/",
        {"key": "pk_test_shop"},
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response


def test_preflight_is_answered_for_the_property_origin(client, prop):
    response = client.options(
        "/api/v1/consent/public/consents/?key=pk_test_shop",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert response.status_code == 204
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_unknown_key_is_a_clear_401(client, prop):
    response = client.get("/api/v1/consent/public/config/", {"key": "pk_nope"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_property_key"


def test_choices_are_recorded_with_proof_and_unchanged_ones_not_repeated(client, prop):
    response = _save(
        client,
        {"analytics": "granted", "marketing_email": "denied"},
        HTTP_USER_AGENT="Mozilla/5.0 test",
        REMOTE_ADDR="198.51.100.23",
    )
    assert response.status_code == 200
    assert response.json()["current"]["analytics"]["state"] == "granted"
    record = ConsentRecord.objects.get(visitor_id="visitor-0001", purpose__slug="analytics")
    assert (record.channel, record.user_agent, record.ip_truncated) == (
        "banner",
        "Mozilla/5.0 test",
        "198.51.100.0",
    )
    _save(client, {"analytics": "granted", "marketing_email": "granted"})
    assert ConsentRecord.objects.filter(visitor_id="visitor-0001").count() == 3


def test_gpc_header_opts_a_californian_visitor_out_of_sale(client, prop):
    body = _config(client, params={"region": "US-CA"}, HTTP_SEC_GPC="1").json()
    assert body["gpc"] is True
    assert body["current"]["sale_sharing"] == {
        **body["current"]["sale_sharing"],
        "state": "denied",
        "gpc": True,
    }
    # A "grant" sent with the signal still cannot opt a Californian back in (CCPA §7025).
    _save(client, {"sale_sharing": "granted"}, region="US-CA", HTTP_SEC_GPC="1")
    current = CurrentConsent.objects.get(visitor_id="visitor-0001", purpose__slug="sale_sharing")
    assert (current.state, current.gpc) == ("denied", True)


def test_in_colorado_an_explicit_opt_in_may_override_gpc(client, prop):
    _config(client, params={"region": "US-CO"}, HTTP_SEC_GPC="1")
    _save(client, {"sale_sharing": "granted"}, region="US-CO", HTTP_SEC_GPC="1")
    current = CurrentConsent.objects.get(visitor_id="visitor-0001", purpose__slug="sale_sharing")
    assert current.state == "granted"
    _config(client, params={"region": "US-CO"}, HTTP_SEC_GPC="1")  # the signal again: choice kept
    assert CurrentConsent.objects.get(pk=current.pk).state == "granted"


def test_gpc_is_only_recorded_where_the_regime_honours_it(client, prop):
    body = _config(client, params={"region": "EU"}, HTTP_SEC_GPC="1").json()
    assert body["current"] == {}


def test_rate_limit_per_property_key(client, prop, settings):
    settings.CUSTODIA_PUBLIC_KEY_RATE = "3/min"
    statuses = [_config(client).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = _config(client)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited["Retry-After"]) > 0
    cache.clear()


def test_gpc_support_is_declared(client):
    assert client.get("/.well-known/gpc.json").json() == {
        "gpc": True,
        "version": 1,
        "lastUpdate": "2026-11-25",
    }


def test_banner_script_is_served_to_any_site(client):
    response = client.get("/consent/banner.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert b"data-property-key" in response.content


@pytest.mark.parametrize(
    "body",
    [
        {"visitor_id": "visitor-0001", "choices": {"analytics": "granted"}},
        {"visitor_id": "visitor-0001", "region": "EU", "choices": {}, "notice": 3},
        {"visitor_id": "visitor-0001", "choices": {"a": "denied"}, "tc_string": ""},
        {"visitor_id": " visitor-0001", "choices": {}},
        {"visitor_id": "visitor-0001", "region": " EU", "choices": {}},
        {"visitor_id": "visitor-0001", "region": "", "choices": {}},
        {"visitor_id": "visitor-0001", "region": "X" * 17, "choices": {}},
        {"visitor_id": "visitor-0001", "choices": {"a": "yes"}},
        {"visitor_id": "visitor-0001", "choices": {"a": 1}},
        {"visitor_id": "visitor-0001", "choices": []},
        {"visitor_id": "visitor-0001", "choices": {}, "notice": True},
        {"visitor_id": "visitor-0001", "choices": {}, "notice": 2.0},
        {"visitor_id": "visitor-0001", "choices": {}, "tc_string": " CO"},
        {"visitor_id": "visitor-0001", "choices": {}, "region": None},
        {"visitor_id": "short", "choices": {}},
        {"visitor_id": 12345678, "choices": {}},
        {"visitor_id": "visitor-0001", "choices": {}, "extra": 1},
        {"choices": {}},
        [],
    ],
)
def test_a_banner_body_read_without_the_serializer_is_exactly_what_it_validates(body):
    """`_plain_choices` takes only what `ChoicesSerializer` accepts unchanged; the rest goes
    through the serializer, which words the errors."""
    from consent.api.public import ChoicesSerializer, _plain_choices

    plain = _plain_choices(body)
    if plain is not None:
        serializer = ChoicesSerializer(data=body)
        assert serializer.is_valid(), serializer.errors
        assert plain == dict(serializer.validated_data)


def test_a_cache_outage_is_answered_503_with_retry_after_not_a_500(client, prop):
    unreachable = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    with override_settings(CACHES=unreachable):
        response = _config(client, params={"region": "EU"})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"
