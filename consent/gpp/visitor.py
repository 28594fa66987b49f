"""The GPP string of a banner visitor, computed from their choices, their region and Global
Privacy Control: usnat and their state's section in the US, the TC string their CMP sent as
tcfeuv2 elsewhere. The banner shows it through `__gpp`; the ledger keeps it as proof."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consent.gpp import SECTION_IDS, decode_section, encode_gpp_string
from consent.gpp.us import US_SECTIONS, Int, USSection

GRANTED = "granted"
NOT_APPLICABLE, OPTED_OUT, DID_NOT_OPT_OUT = 0, 1, 2
NO_CONSENT, CONSENT = 1, 2
NOTICE_GIVEN, NO_NOTICE = 1, 2
MSPA_NOT_COVERED = 2
_CMP_API_SECTIONS = ["tcfeuv2", "usnat"]


@dataclass(frozen=True)
class PurposeChoice:
    """What the mapping needs of a purpose: its kind and the visitor's state for it."""

    sale_sharing: bool
    sensitive: bool
    state: str


def section_for_region(region: str) -> str:
    """The state section of a US region (US-TX -> ustx), or '' when there is none."""
    name = (
        "us" + region.upper().removeprefix("US-").lower()
        if region.upper().startswith("US-")
        else ""
    )
    return name if name in US_SECTIONS and name != "usnat" else ""


def _facts(choices: list[PurposeChoice], *, notice_shown: bool) -> dict[str, int]:
    """The visitor's choices as MSPA field values, by field name."""
    sale = [c for c in choices if c.sale_sharing]
    sensitive = [c for c in choices if c.sensitive]
    opt_out = (
        NOT_APPLICABLE
        if not sale
        else (DID_NOT_OPT_OUT if all(c.state == GRANTED for c in sale) else OPTED_OUT)
    )
    sale_notice = NOTICE_GIVEN if sale else NOT_APPLICABLE
    sensitive_notice = NOTICE_GIVEN if sensitive else NOT_APPLICABLE
    return {
        "SharingNotice": NOTICE_GIVEN if notice_shown else NO_NOTICE,
        "ProcessingNotice": NOTICE_GIVEN if notice_shown else NO_NOTICE,
        "SaleOptOutNotice": sale_notice,
        "SharingOptOutNotice": sale_notice,
        "TargetedAdvertisingOptOutNotice": sale_notice,
        "SaleOptOut": opt_out,
        "SharingOptOut": opt_out,
        "TargetedAdvertisingOptOut": opt_out,
        "SensitiveDataProcessingOptOutNotice": sensitive_notice,
        "SensitiveDataLimitUseNotice": sensitive_notice,
        "SensitiveDataOptOutNotice": sensitive_notice,
        # One hub purpose covers all categories of sensitive data it names: consent to all of
        # them when every sensitive purpose is granted, none otherwise.
        "SensitiveDataProcessing": (
            NOT_APPLICABLE
            if not sensitive
            else (CONSENT if all(c.state == GRANTED for c in sensitive) else NO_CONSENT)
        ),
        "MspaCoveredTransaction": MSPA_NOT_COVERED,
    }


def _values(fields: Any, facts: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        value = facts.get(field.name, field.default if isinstance(field, Int) else 0)
        out[field.name] = value if isinstance(field, Int) else [value] * field.count
    return out


def _us_segments(spec: USSection, facts: dict[str, int], gpc: bool) -> list[dict[str, Any]]:
    core: dict[str, Any] = {spec.version_field: spec.version}
    core.update(_values(spec.layouts[spec.version], facts))
    if spec.gpc:
        return [core, {"SubsectionType": 1, "Gpc": gpc}]
    if spec.sensitive_segment is not None and facts["SensitiveDataProcessing"] != NOT_APPLICABLE:
        # usin, usky, usri: the sensitive-data consents have their own optional segment.
        return [core, _values((spec.sensitive_segment,), facts)]
    return [core]


def visitor_gpp(
    *,
    region: str,
    choices: list[PurposeChoice],
    gpc: bool,
    notice_shown: bool,
    tc_string: str = "",
) -> dict[str, Any]:
    """{string, sections, section_ids, applicable_sections} for the banner's CMP API; an
    empty string and applicable_sections [-1] where no section applies."""
    sections: dict[str, list[dict[str, Any]]] = {}
    encoded: dict[str, str] = {}
    applicable: list[int] = []
    if region.upper() == "US" or region.upper().startswith("US-"):
        facts = _facts(choices, notice_shown=notice_shown)
        sections["usnat"] = _us_segments(US_SECTIONS["usnat"], facts, gpc)
        state = section_for_region(region)
        if state:
            sections[state] = _us_segments(US_SECTIONS[state], facts, gpc)
        applicable = [SECTION_IDS[state or "usnat"]]
    elif tc_string:
        encoded["tcfeuv2"] = tc_string
        sections["tcfeuv2"] = decode_section("tcfeuv2", tc_string)
        applicable = [SECTION_IDS["tcfeuv2"]]
    string = encode_gpp_string(sections, encoded=encoded) if sections else ""
    return {
        "string": string,
        "sections": sections,
        "section_ids": sorted(SECTION_IDS[name] for name in sections),
        "applicable_sections": applicable or [-1],
        "supported_apis": [f"{SECTION_IDS[n]}:{n}" for n in _CMP_API_SECTIONS]
        + [f"{spec.id}:{name}" for name, spec in US_SECTIONS.items() if name != "usnat"],
    }
