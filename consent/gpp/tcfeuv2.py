"""The tcfeuv2 section (id 2): a TCF v2 TC string, read and written by consent.tcf, shown with
the field names of the GPP TCF EU extension (bit fields as arrays of booleans, like the CMP API)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from consent.gpp.bits import GPPStringError
from consent.tcf import TCString, TCStringError, decode_tc_string, encode_tc_string

NAME = "tcfeuv2"
ID = 2


def _flags(ids: list[int], n: int) -> list[bool]:
    return [i + 1 in ids for i in range(n)]


def _ids(value: Any, n: int, field: str) -> list[int]:
    if not isinstance(value, list) or len(value) != n or any(type(v) is not bool for v in value):
        raise GPPStringError(f"must be a list of {n} booleans", section=NAME, field=field)
    return [i + 1 for i, v in enumerate(value) if v]


def decode_tcfeuv2(encoded: str) -> list[dict[str, Any]]:
    try:
        tc = decode_tc_string(encoded)
    except TCStringError as exc:
        raise GPPStringError(str(exc), section=NAME) from exc
    core = {
        "Version": tc.version,
        "Created": tc.created.isoformat(),
        "LastUpdated": tc.last_updated.isoformat(),
        "CmpId": tc.cmp_id,
        "CmpVersion": tc.cmp_version,
        "ConsentScreen": tc.consent_screen,
        "ConsentLanguage": tc.consent_language,
        "VendorListVersion": tc.vendor_list_version,
        "PolicyVersion": tc.tcf_policy_version,
        "IsServiceSpecific": tc.is_service_specific,
        "UseNonStandardStacks": tc.use_non_standard_texts,
        "SpecialFeatureOptins": _flags(tc.special_feature_opt_ins, 12),
        "PurposeConsents": _flags(tc.purposes_consent, 24),
        "PurposeLegitimateInterests": _flags(tc.purposes_li_transparency, 24),
        "PurposeOneTreatment": tc.purpose_one_treatment,
        "PublisherCountryCode": tc.publisher_cc,
        "VendorConsents": tc.vendor_consents,
        "VendorLegitimateInterests": tc.vendor_legitimate_interests,
        "PublisherRestrictions": tc.publisher_restrictions,
    }
    return [core] + [{"SegmentType": kind} for kind in tc.segments[1:]]


def _time(core: dict[str, Any], field: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(core[field])
    except (KeyError, TypeError, ValueError) as exc:
        raise GPPStringError("must be an ISO 8601 date-time", section=NAME, field=field) from exc
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def encode_tcfeuv2(segments: list[dict[str, Any]]) -> str:
    """The core segment only: the optional TCF segments are not written."""
    core = segments[0] if segments else {}
    try:
        tc = TCString(
            version=core.get("Version", 2),
            created=_time(core, "Created"),
            last_updated=_time(core, "LastUpdated"),
            cmp_id=core.get("CmpId", 1),
            cmp_version=core.get("CmpVersion", 1),
            consent_screen=core.get("ConsentScreen", 0),
            consent_language=core.get("ConsentLanguage", "EN"),
            vendor_list_version=core.get("VendorListVersion", 0),
            tcf_policy_version=core.get("PolicyVersion", 5),
            is_service_specific=bool(core.get("IsServiceSpecific", True)),
            use_non_standard_texts=bool(core.get("UseNonStandardStacks", False)),
            special_feature_opt_ins=_ids(
                core.get("SpecialFeatureOptins", [False] * 12), 12, "SpecialFeatureOptins"
            ),
            purposes_consent=_ids(core.get("PurposeConsents", [False] * 24), 24, "PurposeConsents"),
            purposes_li_transparency=_ids(
                core.get("PurposeLegitimateInterests", [False] * 24),
                24,
                "PurposeLegitimateInterests",
            ),
            purpose_one_treatment=bool(core.get("PurposeOneTreatment", False)),
            publisher_cc=core.get("PublisherCountryCode", "AA"),
            vendor_consents=list(core.get("VendorConsents", [])),
            vendor_legitimate_interests=list(core.get("VendorLegitimateInterests", [])),
            publisher_restrictions=list(core.get("PublisherRestrictions", [])),
        )
        return encode_tc_string(tc)
    except TCStringError as exc:
        raise GPPStringError(str(exc), section=NAME) from exc
