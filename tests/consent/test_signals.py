"""Signals the banner speaks: identity assertions (choices that follow a known customer),
Google Consent Mode v2 defaults and mapping, and notices in the visitor's language."""

import json
import re
import time

import pytest
from django.core.cache import cache

from audit.actors import Actor
from consent.identity import identity_assertion_sign
from consent.models import (
    ConsentModeMapping,
    ConsentProperty,
    ConsentRecord,
    Notice,
    Purpose,
)
from consent.selectors import may_process
from consent.services import consent_chain_verify, consent_property_identity_secret_rotate
from core.languages import language_match, preferred_languages
from tests.factories import make_subject

pytestmark = pytest.mark.django_db
ORIGIN = "https://shop.example.com"
KEY = "pk_test_signals"


@pytest.fixture
def prop():
    p = ConsentProperty.objects.create(
        name="Shop", publishable_key=KEY, allowed_origins=[ORIGIN], default_region="EU"
    )
    p.purposes.set(Purpose.objects.all())
    cache.clear()
    return p


def _post(client, path, body):
    return client.post(
        f"/api/v1/consent/public/{path}/?key={KEY}",
        body,
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )


def _identify(client, assertion, visitor="visitor-0001"):
    return _post(client, "identify", {"visitor_id": visitor, "assertion": assertion})


def _assertion(prop, value="C-1001", kind="customer_id", **kwargs):
    return identity_assertion_sign(secret=prop.identity_secret, kind=kind, value=value, **kwargs)


def _error(response):
    return response.status_code, response.json()["error"]["code"]


# Identity assertions


def test_identified_visitors_banner_choice_becomes_the_subjects_decision(client, prop):
    subject = make_subject(region="EU", customer_id="C-1001")
    analytics = Purpose.objects.get(slug="analytics")
    assert not may_process(subject=subject, purpose=analytics).allowed

    assert _identify(client, _assertion(prop)).json() == {"linked": True, "carried": 0}
    saved = _post(
        client,
        "consents",
        {"visitor_id": "visitor-0001", "region": "EU", "choices": {"analytics": "granted"}},
    )
    assert saved.status_code == 200

    decision = may_process(subject=subject, purpose=analytics)
    assert (decision.allowed, decision.reason) == (True, "explicit_grant")
    record = ConsentRecord.objects.get(subject=subject, purpose=analytics)
    assert record.channel == "banner"
    assert consent_chain_verify(subject=subject)


def test_choices_made_before_identification_are_carried_to_the_subject(client, prop):
    subject = make_subject(region="EU", email="ana@example.com")
    _post(
        client,
        "consents",
        {"visitor_id": "visitor-0001", "region": "EU", "choices": {"personalization": "granted"}},
    )
    body = _identify(client, _assertion(prop, kind="email", value="Ana@Example.com")).json()
    assert body["carried"] == 1
    assert may_process(subject=subject, purpose=Purpose.objects.get(slug="personalization")).allowed


def test_expired_assertion_is_refused(client, prop):
    make_subject(region="EU", customer_id="C-1001")
    assertion = _assertion(prop, ttl=-5)
    assert _error(_identify(client, assertion)) == (401, "identity_assertion_expired")


def test_assertion_signed_with_another_secret_is_refused(client, prop):
    make_subject(region="EU", customer_id="C-1001")
    forged = identity_assertion_sign(secret="not-the-secret", kind="customer_id", value="C-1001")
    assert _error(_identify(client, forged)) == (401, "identity_assertion_forged")
    signature = _assertion(prop).partition(".")[2]
    tampered = _assertion(prop, value="C-9999").partition(".")[0] + "." + signature
    assert _error(_identify(client, tampered)) == (401, "identity_assertion_forged")


def test_replayed_assertion_is_refused(client, prop):
    make_subject(region="EU", customer_id="C-1001")
    assertion = _assertion(prop)
    assert _identify(client, assertion).status_code == 200
    assert _error(_identify(client, assertion, visitor="visitor-0002")) == (
        409,
        "identity_assertion_replayed",
    )


def test_malformed_or_too_long_lived_assertions_are_refused(client, prop):
    assert _error(_identify(client, "no-signature-here"))[0] in (400, 401)
    assert _error(_identify(client, _assertion(prop, ttl=86400))) == (
        400,
        "identity_assertion_malformed",
    )


def test_subject_outside_the_propertys_regions_is_not_linked(client, prop):
    make_subject(region="US-CA", customer_id="C-1001")
    assert _error(_identify(client, _assertion(prop))) == (404, "identity_subject_unknown")


def test_rotated_secret_refuses_assertions_signed_with_the_old_one(client, prop):
    make_subject(region="EU", customer_id="C-1001")
    old = _assertion(prop, nonce="nonce-old-secret")
    consent_property_identity_secret_rotate(prop=prop, actor=Actor.system("tests"))
    assert _error(_identify(client, old)) == (401, "identity_assertion_forged")
    prop.refresh_from_db()
    assert _identify(client, _assertion(prop)).status_code == 200


# Google Consent Mode v2


def _map(prop, consent_type, *slugs):
    mapping = ConsentModeMapping.objects.create(property=prop, consent_type=consent_type)
    mapping.purposes.set(Purpose.objects.filter(slug__in=slugs))


def test_banner_script_inlines_consent_mode_defaults_denied_in_the_eea_and_uk(client, prop):
    _map(prop, "ad_storage", "sale_sharing")
    _map(prop, "analytics_storage", "analytics")
    _map(prop, "security_storage", "essential")
    script = client.get("/consent/banner.js", {"key": KEY}).content.decode()
    assert "/*CONSENT_MODE*/null" not in script
    table = json.loads(re.search(r"var CONSENT_MODE = (\{.*?\});\n", script).group(1))
    by_region = {tuple(r["regions"]): r for r in table["regimes"]}
    eea = by_region[("EU",)]
    assert {"DE", "NO"} <= set(eea["gtag_regions"])
    assert eea["defaults"]["ad_storage"] == "denied"
    assert eea["defaults"]["analytics_storage"] == "denied"
    assert eea["defaults"]["security_storage"] == "granted"
    assert by_region[("GB",)]["defaults"]["analytics_storage"] == "denied"
    texas = by_region[("US-TX",)]
    assert texas["defaults"]["ad_storage"] == "granted"  # opt-out law
    assert texas["gpc_denies"] == ["ad_storage"]  # but GPC opts out of the sale/sharing types
    assert by_region[("US-VA",)]["gpc_denies"] == []  # Virginia does not require GPC
    assert table["wait_for_update"] > 0


def test_banner_script_without_a_key_still_denies_everything_by_default(client, prop):
    script = client.get("/consent/banner.js").content.decode()
    assert "/*CONSENT_MODE*/null" in script


# Languages


def _notice(language, title):
    notice = Notice.objects.create(language=language, version=1, title=title, text=title)
    notice.purposes.set(Purpose.objects.all())
    return notice


def test_preferred_languages_follow_quality_weights_and_match_by_primary_tag():
    assert preferred_languages("en;q=0.5, de-CH, de;q=0.9") == ["de-ch", "de", "en"]
    assert language_match(["pt"], ["en", "pt-BR"]) == "pt-BR"
    assert language_match(["de-at"], ["en", "de"]) == "de"
    assert language_match(["ja"], ["en"]) is None


def test_config_picks_the_notice_from_accept_language_and_the_ledger_records_it(client, prop):
    _notice("en", "Your privacy choices")
    german = _notice("de", "Ihre Datenschutzeinstellungen")
    body = client.get(
        "/api/v1/consent/public/config/",
        {"key": KEY, "visitor": "visitor-0001", "region": "EU"},
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5",
    ).json()
    assert (body["language"], body["notice"]["title"]) == ("de", german.title)
    assert body["texts"]["accept_all"] == "Alle akzeptieren"
    _post(
        client,
        "consents",
        {
            "visitor_id": "visitor-0001",
            "region": "EU",
            "choices": {"analytics": "granted"},
            "notice": german.pk,
        },
    )
    record = ConsentRecord.objects.get(visitor_id="visitor-0001")
    assert record.language == "de"
    assert consent_chain_verify(visitor_id="visitor-0001")


def test_override_parameter_wins_and_unknown_languages_fall_back_to_the_default(client, prop):
    _notice("en", "Your privacy choices")
    _notice("fr", "Vos choix de confidentialité")
    params = {"key": KEY, "visitor": "visitor-0001"}
    french = client.get(
        "/api/v1/consent/public/config/",
        {**params, "lang": "fr"},
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCEPT_LANGUAGE="de",
    ).json()
    assert french["language"] == "fr"
    fallback = client.get(
        "/api/v1/consent/public/config/", {**params, "lang": "ja,ko"}, HTTP_ORIGIN=ORIGIN
    ).json()
    assert (fallback["language"], fallback["texts"]["accept_all"]) == ("en", "Accept all")


def test_privacy_center_speaks_the_browsers_language_with_an_override(client, prop):
    german = client.get("/privacy-center/", {"key": KEY}, HTTP_ACCEPT_LANGUAGE="de").content
    assert "Ihre Rechte" in german.decode()
    portuguese = client.get(
        "/privacy-center/", {"key": KEY, "lang": "pt-BR"}, HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    assert "Seus direitos" in portuguese
    assert '<html lang="pt-br">' in portuguese


def test_identity_assertion_lifetime_is_checked_against_the_clock():
    from consent.identity import IdentityAssertionError, identity_assertion_verify

    assertion = identity_assertion_sign(secret="s", kind="email", value="a@example.com", ttl=60)
    assert identity_assertion_verify(secret="s", assertion=assertion).kind == "email"
    with pytest.raises(IdentityAssertionError):
        identity_assertion_verify(secret="s", assertion=assertion, now=time.time() + 120)
