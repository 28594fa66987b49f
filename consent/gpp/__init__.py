"""IAB Global Privacy Platform strings, written from the IAB specification: a header section
(type 3, version 1, the ids of the sections that follow as a Fibonacci-coded range) and the
sections themselves, joined by '~'. Supported: usnat and the US state sections (consent.gpp.us)
and tcfeuv2 (through consent.tcf); other sections are kept undecoded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consent.gpp import tcfeuv2
from consent.gpp.bits import BitReader, BitWriter, GPPStringError
from consent.gpp.us import US_SECTIONS, decode_us_section, encode_us_section

__all__ = [
    "SECTION_IDS",
    "GPPString",
    "GPPStringError",
    "decode_gpp_string",
    "decode_section",
    "encode_gpp_string",
    "encode_section",
]

HEADER_TYPE = 3
GPP_VERSION = 1
MAX_LENGTH = 8192
MAX_SECTION_ID = 255  # the IAB has assigned ids up to the 20s; a string has at most a few
SECTION_IDS: dict[str, int] = {tcfeuv2.NAME: tcfeuv2.ID} | {
    name: spec.id for name, spec in US_SECTIONS.items()
}
SECTION_NAMES = {i: name for name, i in SECTION_IDS.items()}


@dataclass
class GPPString:
    version: int
    section_ids: list[int]
    sections: dict[str, list[dict[str, Any]]]
    unsupported_sections: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "section_ids": self.section_ids,
            "sections": self.sections,
            "unsupported_sections": self.unsupported_sections,
        }


def decode_section(name: str, encoded: str) -> list[dict[str, Any]]:
    if name == tcfeuv2.NAME:
        return tcfeuv2.decode_tcfeuv2(encoded)
    return decode_us_section(US_SECTIONS[name], encoded)


def encode_section(name: str, segments: list[dict[str, Any]]) -> str:
    if name == tcfeuv2.NAME:
        return tcfeuv2.encode_tcfeuv2(segments)
    if name not in US_SECTIONS:
        raise GPPStringError("unsupported section", section=name)
    return encode_us_section(US_SECTIONS[name], segments)


def _header(encoded: str) -> tuple[int, list[int]]:
    bits = BitReader(encoded, section="header")
    kind = bits.int(6, "Type")
    if kind != HEADER_TYPE:
        raise GPPStringError(
            f"is {kind}, a GPP string starts with a header of type {HEADER_TYPE}",
            section="header",
            field="Type",
        )
    version = bits.int(6, "Version")
    if version != GPP_VERSION:
        raise GPPStringError(
            f"unsupported GPP version {version} (expected {GPP_VERSION})",
            section="header",
            field="Version",
        )
    ids = bits.fibonacci_range("SectionIds", max_id=MAX_SECTION_ID)
    if len(set(ids)) != len(ids) or ids != sorted(ids):
        raise GPPStringError(
            "section ids repeat or are out of order", section="header", field="SectionIds"
        )
    return version, ids


def decode_gpp_string(value: str) -> GPPString:
    """Decode and validate a GPP string; raise GPPStringError naming the section and field."""
    if not isinstance(value, str) or not value.strip():
        raise GPPStringError("the GPP string is empty")
    if len(value) > MAX_LENGTH:
        raise GPPStringError(f"the GPP string is longer than {MAX_LENGTH} characters")
    parts = value.strip().split("~")
    version, ids = _header(parts[0])
    if len(ids) != len(parts) - 1:
        raise GPPStringError(
            f"lists {len(ids)} sections but the string has {len(parts) - 1}",
            section="header",
            field="SectionIds",
        )
    result = GPPString(version=version, section_ids=ids, sections={})
    for section_id, encoded in zip(ids, parts[1:], strict=True):
        name = SECTION_NAMES.get(section_id)
        if name is None:
            result.unsupported_sections[str(section_id)] = encoded
            continue
        result.sections[name] = decode_section(name, encoded)
    return result


def encode_gpp_string(
    sections: dict[str, list[dict[str, Any]]], *, encoded: dict[str, str] | None = None
) -> str:
    """A GPP string of these sections (by API prefix), in section id order. `encoded` gives
    sections already encoded (a TC string as the visitor's CMP wrote it), kept as they are."""
    encoded = encoded or {}
    sections = {**sections, **{name: [] for name in encoded}}
    unknown = sorted(set(sections) - set(SECTION_IDS))
    if unknown:
        raise GPPStringError("unsupported section", section=unknown[0])
    names = sorted(sections, key=SECTION_IDS.__getitem__)
    header = BitWriter()
    header.int(HEADER_TYPE, 6)
    header.int(GPP_VERSION, 6)
    header.fibonacci_range([SECTION_IDS[n] for n in names])
    return "~".join(
        [header.base64url()]
        + [encoded[n] if n in encoded else encode_section(n, sections[n]) for n in names]
    )
