"""IAB GPP strings: the header, the US sections with their GPC subsections, tcfeuv2, and the
field-level errors of the decode endpoint."""

import pytest

from consent.gpp import GPPStringError, decode_gpp_string, encode_gpp_string
from consent.gpp.us import US_SECTIONS


@pytest.mark.parametrize(
    ("ids", "header"),
    [([2], "DBABM"), ([2, 6], "DBACNY"), ([5, 6], "DBABjw")],  # the specification's examples
)
def test_headers_of_the_specification_decode_to_their_section_ids(ids, header):
    from consent.gpp import _header

    assert _header(header) == (1, ids)


def test_sections_this_hub_does_not_read_are_kept_undecoded():
    gpp = decode_gpp_string("DBABjw~1YNN~CAAQAAAAAABA")
    assert gpp.section_ids == [5, 6]
    assert gpp.unsupported_sections == {"5": "1YNN", "6": "CAAQAAAAAABA"}


def test_a_usnat_string_from_the_field_decodes_core_and_gpc():
    gpp = decode_gpp_string("DBABLA~BVQqAAAAAgA.QA")
    usnat = gpp.sections["usnat"]
    assert gpp.section_ids == [7]
    assert usnat[0]["Version"] == 1
    assert usnat[0]["SaleOptOut"] == 2
    assert len(usnat[0]["SensitiveDataProcessing"]) == 12
    assert usnat[1] == {"SubsectionType": 1, "Gpc": False}


@pytest.mark.parametrize("name", sorted(US_SECTIONS))
def test_every_us_section_round_trips_through_encode_and_decode(name):
    spec = US_SECTIONS[name]
    core = {"SaleOptOut": 1, "MspaCoveredTransaction": 2}
    segments = [core, {"SubsectionType": 1, "Gpc": True}] if spec.gpc else [core]
    decoded = decode_gpp_string(encode_gpp_string({name: segments})).sections[name]
    assert decoded[0]["SaleOptOut"] == 1
    assert decoded[0][spec.version_field] == spec.version
    assert decoded[1:] == segments[1:]


def test_sections_are_written_in_id_order_with_a_fibonacci_range_header():
    value = encode_gpp_string({"usca": [{}], "usnat": [{}], "ustx": [{}]})
    assert decode_gpp_string(value).section_ids == [7, 8, 16]


@pytest.mark.parametrize(
    ("value", "section", "field"),
    [
        ("", "", ""),
        ("DBABLA", "header", "SectionIds"),
        ("CBABLA~BVQqAAAAAgA", "header", "Type"),
        ("DBABLA~BVQqAAAAAgA~BAAA", "header", "SectionIds"),
        ("DBABLA~B*Qq", "usnat", ""),
        ("DBABLA~DVQqAAAAAgA", "usnat", "Version"),
        ("DBABLA~BV", "usnat", "TargetedAdvertisingOptOutNotice"),
        ("DBABLA~B_QqAAAAAgA", "usnat", "SharingNotice"),
        ("DBABLA~BVQqAAAAAgA.wA", "usnat", "SubsectionType"),
        ("DBABLA~BVQqAAAAAgA.QA.QA", "usnat", ""),
        ("DBABMA~CPSG_8A", "tcfeuv2", ""),
    ],
)
def test_malformed_strings_name_the_section_and_field(value, section, field):
    with pytest.raises(GPPStringError) as error:
        decode_gpp_string(value)
    assert (error.value.section, error.value.field) == (section, field)


def test_a_header_naming_a_huge_group_of_sections_is_refused_without_building_it():
    from consent.gpp.bits import BitWriter

    header = BitWriter()
    header.int(3, 6)
    header.int(1, 6)
    header.int(1, 12)
    header.bool(True)
    header.fibonacci(1)
    header.fibonacci(10**8)
    with pytest.raises(GPPStringError, match=r"header\.SectionIds: names id"):
        decode_gpp_string(header.base64url() + "~x")


def test_encoding_refuses_values_the_specification_does_not_define():
    with pytest.raises(GPPStringError, match=r"usnat\.SaleOptOut"):
        encode_gpp_string({"usnat": [{"SaleOptOut": 3}]})
    with pytest.raises(GPPStringError, match=r"usca\.SensitiveDataProcessing"):
        encode_gpp_string({"usca": [{"SensitiveDataProcessing": [0] * 8}]})


@pytest.mark.django_db
def test_the_decode_endpoint_answers_fields_or_a_400_naming_the_field(api, roles):
    from tests.factories import make_staff

    api.force_authenticate(make_staff("DPO"))
    ok = api.post(
        "/api/v1/consent/gpp/decode/", {"gpp_string": "DBABLA~BVQqAAAAAgA.QA"}, format="json"
    )
    assert ok.status_code == 200
    assert ok.json()["sections"]["usnat"][1]["Gpc"] is False
    bad = api.post(
        "/api/v1/consent/gpp/decode/", {"gpp_string": "DBABLA~B_QqAAAAAgA"}, format="json"
    )
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "gpp_string_invalid"
    assert "usnat.SharingNotice" in error["message"]
