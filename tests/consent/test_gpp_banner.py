"""The banner's GPP string: computed by the hub from the visitor's choices, region and GPC,
returned with the banner configuration and each write, and kept on the ledger as proof."""

import pytest
from django.core.cache import cache

from consent.gpp import decode_gpp_string
from consent.models import ConsentProperty, ConsentRecord, Purpose
from consent.services import consent_chain_verify

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


def _config(client, region, **extra):
    return client.get(
        "/api/v1/consent/public/config/",
        {"key": "pk_test_shop", "visitor": "visitor-0001", "region": region},
        HTTP_ORIGIN=ORIGIN,
        **extra,
    ).json()


def _save(client, choices, region, **extra):
    return client.post(
        "/api/v1/consent/public/consents/?key=pk_test_shop",
        {"visitor_id": "visitor-0001", "region": region, "choices": choices},
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        **extra,
    ).json()


def test_a_californian_gets_usnat_and_usca_with_the_default_opt_out_model(client, prop):
    gpp = _config(client, "US-CA")["gpp"]
    assert gpp["applicable_sections"] == [8]
    decoded = decode_gpp_string(gpp["string"])
    assert decoded.section_ids == [7, 8]
    assert decoded.sections == gpp["sections"]
    usca = decoded.sections["usca"]
    assert (usca[0]["SaleOptOutNotice"], usca[0]["SaleOptOut"]) == (1, 2)
    assert usca[1] == {"SubsectionType": 1, "Gpc": False}


def test_gpc_shows_as_an_opt_out_and_in_the_gpc_subsection(client, prop):
    gpp = _config(client, "US-CA", HTTP_SEC_GPC="1")["gpp"]
    for name in ("usnat", "usca"):
        core, subsection = gpp["sections"][name]
        assert core["SaleOptOut"] == 1
        assert subsection["Gpc"] is True


def test_the_ledger_keeps_the_string_shown_after_the_choice_in_the_hash_chain(client, prop):
    body = _save(client, {"sale_sharing": "denied", "analytics": "granted"}, "US-CO")
    assert body["gpp"]["sections"]["usco"][0]["SaleOptOut"] == 1
    records = ConsentRecord.objects.filter(visitor_id="visitor-0001")
    assert {r.gpp_string for r in records} == {body["gpp"]["string"]}
    assert consent_chain_verify(visitor_id="visitor-0001")
    ConsentRecord.objects.filter(visitor_id="visitor-0001").update(gpp_string="DBABLA~tampered")
    assert not consent_chain_verify(visitor_id="visitor-0001")


def test_a_visitor_outside_the_us_without_a_tc_string_has_no_applicable_section(client, prop):
    gpp = _config(client, "EU")["gpp"]
    assert gpp == {**gpp, "string": "", "sections": {}, "applicable_sections": [-1]}


def test_a_tc_string_sent_with_an_eu_choice_becomes_the_tcfeuv2_section(client, prop):
    from consent.gpp.tcfeuv2 import encode_tcfeuv2

    created = "2026-11-01T12:00:00+00:00"
    tc_string = encode_tcfeuv2([{"Created": created, "LastUpdated": created, "CmpId": 300}])
    body = client.post(
        "/api/v1/consent/public/consents/?key=pk_test_shop",
        {
            "visitor_id": "visitor-0001",
            "region": "EU",
            "choices": {"analytics": "granted"},
            "tc_string": tc_string,
        },
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    ).json()
    assert body["gpp"]["applicable_sections"] == [2]
    assert body["gpp"]["string"].endswith("~" + tc_string)
    assert body["gpp"]["sections"]["tcfeuv2"][0]["CmpId"] == 300


@pytest.mark.parametrize(
    ("region", "sections", "applicable"),
    [
        ("US-TX", [7, 16], [16]),
        ("US-NJ", [7, 21], [21]),
        ("US-MN", [7, 23], [23]),
        ("US-MD", [7, 24], [24]),
        ("US-RI", [7, 27], [27]),
        ("US-AK", [7], [7]),  # no state law or section: the national one applies
        ("US", [7], [7]),
        ("BR", [], [-1]),
    ],
)
def test_the_region_picks_usnat_and_the_state_section(region, sections, applicable):
    from consent.gpp.visitor import PurposeChoice, visitor_gpp

    gpp = visitor_gpp(
        region=region,
        choices=[PurposeChoice(sale_sharing=True, sensitive=False, state="denied")],
        gpc=True,
        notice_shown=True,
    )
    assert (gpp["section_ids"], gpp["applicable_sections"]) == (sections, applicable)
    if sections:
        assert decode_gpp_string(gpp["string"]).section_ids == sections


def test_a_purpose_left_unchosen_shows_at_the_regime_default(client, prop):
    body = _save(client, {"analytics": "denied"}, "US-CA")  # nothing said about sale/sharing
    assert body["gpp"]["sections"]["usca"][0]["SaleOptOut"] == 2  # opt-out model: not opted out


def test_indiana_carries_sensitive_consents_in_its_own_segment_only_when_there_are_some():
    """usin, usky and usri keep sensitive-data consents in an optional second segment; a
    visitor with a sensitive purpose gets it, one without does not."""
    from consent.gpp.visitor import PurposeChoice, visitor_gpp

    sensitive = visitor_gpp(
        region="US-IN",
        choices=[PurposeChoice(sale_sharing=False, sensitive=True, state="granted")],
        gpc=False,
        notice_shown=True,
    )
    assert sensitive["sections"]["usin"][1] == {"SensitiveDataProcessing": [2] * 8}
    assert sensitive["sections"]["usin"][0]["MspaVersion"] == 1
    plain = visitor_gpp(
        region="US-IN",
        choices=[PurposeChoice(sale_sharing=True, sensitive=False, state="denied")],
        gpc=True,
        notice_shown=True,
    )
    assert len(plain["sections"]["usin"]) == 1
    assert plain["sections"]["usin"][0]["SaleOptOut"] == 1
