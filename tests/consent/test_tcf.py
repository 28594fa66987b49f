"""IAB TCF v2.2 TC strings: decoded against strings built by an independent encoder."""

import base64
import datetime as dt

import pytest

from consent.tcf import TCStringError, decode_tc_string


class BitWriter:
    """An encoder written from the spec's field table, independent of the decoder."""

    def __init__(self) -> None:
        self.bits: list[str] = []

    def int(self, value: int, width: int) -> "BitWriter":
        self.bits.append(format(value, f"0{width}b"))
        return self

    def flags(self, ids: list[int], width: int) -> "BitWriter":
        self.bits.append("".join("1" if i + 1 in ids else "0" for i in range(width)))
        return self

    def letters(self, text: str) -> "BitWriter":
        return self.int(ord(text[0].lower()) - 97, 6).int(ord(text[1].lower()) - 97, 6)

    def encode(self) -> str:
        bits = "".join(self.bits)
        bits += "0" * (-len(bits) % 8)
        data = int(bits, 2).to_bytes(len(bits) // 8, "big")
        return base64.urlsafe_b64encode(data).decode().rstrip("=")


CREATED = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def core(
    *,
    purposes=(1, 3, 4),
    li=(2, 7),
    vendors_bitfield=(2, 6, 8),
    vendors_ranges=None,
    li_vendors=(),
    restrictions=(),
    version=2,
    created=CREATED,
    updated=None,
) -> BitWriter:
    w = BitWriter()
    w.int(version, 6).int(int(created.timestamp() * 10), 36).int(
        int((updated or created).timestamp() * 10), 36
    )
    w.int(300, 12).int(7, 12).int(1, 6).letters("FR").int(152, 12).int(4, 6).int(1, 1).int(0, 1)
    w.flags([1], 12).flags(list(purposes), 24).flags(list(li), 24).int(0, 1).letters("DE")
    if vendors_ranges is None:
        w.int(max(vendors_bitfield or [0]), 16).int(0, 1).flags(
            list(vendors_bitfield), max(vendors_bitfield or [0])
        )
    else:
        w.int(max(end for _, end in vendors_ranges), 16).int(1, 1).int(len(vendors_ranges), 12)
        for start, end in vendors_ranges:
            if start == end:
                w.int(0, 1).int(start, 16)
            else:
                w.int(1, 1).int(start, 16).int(end, 16)
    w.int(max(li_vendors or [0]), 16).int(0, 1).flags(list(li_vendors), max(li_vendors or [0]))
    w.int(len(restrictions), 12)
    for purpose, kind, vendor in restrictions:
        w.int(purpose, 6).int(kind, 2).int(1, 12).int(0, 1).int(vendor, 16)
    return w


def test_core_fields_and_bitfield_vendors_decode_to_what_was_encoded():
    tc = decode_tc_string(core().encode())
    assert (tc.version, tc.cmp_id, tc.cmp_version, tc.consent_screen) == (2, 300, 7, 1)
    assert (tc.consent_language, tc.vendor_list_version, tc.tcf_policy_version) == ("FR", 152, 4)
    assert tc.created == CREATED
    assert tc.is_service_specific is True
    assert tc.special_feature_opt_ins == [1]
    assert tc.purposes_consent == [1, 3, 4]
    assert tc.purposes_li_transparency == [2, 7]
    assert tc.publisher_cc == "DE"
    assert tc.vendor_consents == [2, 6, 8]


def test_range_encoded_vendors_and_publisher_restrictions_decode():
    tc = decode_tc_string(
        core(vendors_ranges=[(5, 5), (10, 13)], li_vendors=(3,), restrictions=[(2, 1, 44)]).encode()
    )
    assert tc.vendor_consents == [5, 10, 11, 12, 13]
    assert tc.vendor_legitimate_interests == [3]
    assert tc.publisher_restrictions == [{"purpose": 2, "type": 1, "vendors": [44]}]


def test_segments_after_the_core_are_named_by_their_type():
    disclosed = BitWriter().int(1, 3).int(0, 16).int(0, 1).encode()
    publisher = BitWriter().int(3, 3).flags([1], 24).flags([], 24).int(0, 6).encode()
    tc = decode_tc_string(f"{core().encode()}.{disclosed}.{publisher}")
    assert tc.segments == ["core", "disclosed_vendors", "publisher_tc"]


def test_strings_built_by_another_encoder_decode():
    # Output of the IAB GPP reference library's TCF EU v2 section with default fields.
    tc = decode_tc_string("CPSG_8APSG_8AAAAAAENAACAAAAAAAAAAAAAAAAAAAAA.QAAA.IAAA")
    assert tc.created == dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    assert (tc.version, tc.consent_language, tc.tcf_policy_version) == (2, "EN", 2)
    assert tc.segments == ["core", "allowed_vendors", "disclosed_vendors"]
    # An example published with a Kaitai-based TCF 2.0 parser (CMP 394, vendor list 28).
    tc = decode_tc_string(
        "COwaAK3OwaAK3GKAAAENAcCAAAAAAAAAAAAAAAAAAAAA.IF0EWSQgAYWwho0QUBzBAIYAfJgSCAMgSAAQIoCkFQICERBAEKiAQHAEQJAAAGBAAkACAAQAoHCBMCQABgAARiRCEQECIDRNABIBAggAKYQFAAARmikHC3ZCY702yOmQ.YAAAAAAAAAAAAAAAAAA"
    )
    assert (tc.cmp_id, tc.vendor_list_version) == (394, 28)
    assert tc.segments == ["core", "disclosed_vendors", "publisher_tc"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("not base64!", "base64url"),
        ("CPSG_8A", "truncated"),
        (core(version=1).encode(), "version 1"),
        (core(updated=CREATED - dt.timedelta(days=1)).encode(), "implausible"),
        (core().encode() + ".AAAA", "segment type 0"),
    ],
)
def test_malformed_strings_are_refused_with_a_reason(value, message):
    with pytest.raises(TCStringError, match=message):
        decode_tc_string(value)


@pytest.mark.django_db
def test_the_api_answers_400_with_a_clear_code_for_a_malformed_string(api, roles):
    from tests.factories import make_staff

    api.force_authenticate(make_staff("DPO"))
    response = api.post("/api/v1/consent/tcf/decode/", {"tc_string": "CPSG_8A"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tc_string_invalid"
    ok = api.post("/api/v1/consent/tcf/decode/", {"tc_string": core().encode()}, format="json")
    assert ok.json()["purposes_consent"] == [1, 3, 4]
