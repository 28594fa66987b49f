"""IAB TCF v2.2 TC string decoder (core segment and segment types), written from the spec:
big-endian bit fields, base64url without padding, segments joined by '.'."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import DomainError

SEGMENT_TYPES = {0: "core", 1: "disclosed_vendors", 2: "allowed_vendors", 3: "publisher_tc"}
MAX_LENGTH = 8192


class TCStringError(ValueError):
    """The string is not a valid TCF v2 TC string; the message says what is wrong."""


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big") if data else 0
        self.length = len(data) * 8
        self.pos = 0

    def read(self, n: int, name: str) -> int:
        if self.pos + n > self.length:
            raise TCStringError(
                f"TC string is truncated: {name} needs {n} bits at offset {self.pos}"
            )
        out = (self.value >> (self.length - self.pos - n)) & ((1 << n) - 1)
        self.pos += n
        return out

    def flags(self, n: int, name: str) -> list[int]:
        """1-based ids whose bit is set, first bit = id 1."""
        value = self.read(n, name)
        return [i + 1 for i in range(n) if value >> (n - 1 - i) & 1]

    def letters(self, name: str) -> str:
        first, second = self.read(6, name), self.read(6, name)
        if first > 25 or second > 25:
            raise TCStringError(f"{name} is not two letters")
        return chr(ord("A") + first) + chr(ord("A") + second)


@dataclass
class TCString:
    version: int
    created: dt.datetime
    last_updated: dt.datetime
    cmp_id: int
    cmp_version: int
    consent_screen: int
    consent_language: str
    vendor_list_version: int
    tcf_policy_version: int
    is_service_specific: bool
    use_non_standard_texts: bool
    special_feature_opt_ins: list[int]
    purposes_consent: list[int]
    purposes_li_transparency: list[int]
    purpose_one_treatment: bool
    publisher_cc: str
    vendor_consents: list[int]
    vendor_legitimate_interests: list[int]
    publisher_restrictions: list[dict[str, Any]] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created"] = self.created.isoformat()
        data["last_updated"] = self.last_updated.isoformat()
        return data


def _b64(segment: str) -> bytes:
    if not segment or any(
        c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in segment
    ):
        raise TCStringError("TC string segments are base64url without padding")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TCStringError("TC string is not valid base64url") from exc


def _time(deciseconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(deciseconds / 10, tz=dt.UTC)


def _vendor_section(bits: _Bits, name: str) -> list[int]:
    max_vendor = bits.read(16, f"{name}.MaxVendorId")
    if bits.read(1, f"{name}.IsRangeEncoding"):
        return _ranges(bits, name, max_vendor)
    return bits.flags(max_vendor, f"{name}.BitField") if max_vendor else []


def _ranges(bits: _Bits, name: str, max_vendor: int | None = None) -> list[int]:
    vendors: set[int] = set()
    for _ in range(bits.read(12, f"{name}.NumEntries")):
        is_range = bits.read(1, f"{name}.IsARange")
        start = bits.read(16, f"{name}.StartOrOnlyVendorId")
        end = bits.read(16, f"{name}.EndVendorId") if is_range else start
        if start < 1 or end < start or (max_vendor is not None and end > max_vendor):
            raise TCStringError(f"{name} has an invalid vendor range {start}-{end}")
        vendors.update(range(start, end + 1))
    return sorted(vendors)


def tc_string_checked(value: str) -> TCString:
    """`decode_tc_string` for a request's input: a string that does not decode is a 400 naming
    the field `tc_string`, with the precise reason (code tc_string_invalid)."""
    try:
        return decode_tc_string(value)
    except TCStringError as exc:
        raise DomainError(
            str(exc), code="tc_string_invalid", fields={"tc_string": [str(exc)]}
        ) from exc


def decode_tc_string(value: str) -> TCString:
    """Decode and validate a TC string; raise TCStringError with a precise reason."""
    if not isinstance(value, str) or not value.strip():
        raise TCStringError("TC string is empty")
    if len(value) > MAX_LENGTH:
        raise TCStringError("TC string is too long")
    parts = value.strip().split(".")
    bits = _Bits(_b64(parts[0]))
    version = bits.read(6, "Version")
    if version != 2:
        raise TCStringError(f"unsupported TC string version {version} (expected 2)")
    created = _time(bits.read(36, "Created"))
    last_updated = _time(bits.read(36, "LastUpdated"))
    tc = TCString(
        version=version,
        created=created,
        last_updated=last_updated,
        cmp_id=bits.read(12, "CmpId"),
        cmp_version=bits.read(12, "CmpVersion"),
        consent_screen=bits.read(6, "ConsentScreen"),
        consent_language=bits.letters("ConsentLanguage"),
        vendor_list_version=bits.read(12, "VendorListVersion"),
        tcf_policy_version=bits.read(6, "TcfPolicyVersion"),
        is_service_specific=bool(bits.read(1, "IsServiceSpecific")),
        use_non_standard_texts=bool(bits.read(1, "UseNonStandardTexts")),
        special_feature_opt_ins=bits.flags(12, "SpecialFeatureOptIns"),
        purposes_consent=bits.flags(24, "PurposesConsent"),
        purposes_li_transparency=bits.flags(24, "PurposesLITransparency"),
        purpose_one_treatment=bool(bits.read(1, "PurposeOneTreatment")),
        publisher_cc=bits.letters("PublisherCC"),
        vendor_consents=_vendor_section(bits, "VendorConsents"),
        vendor_legitimate_interests=_vendor_section(bits, "VendorLegitimateInterests"),
    )
    for _ in range(bits.read(12, "NumPubRestrictions")):
        purpose_id = bits.read(6, "PubRestriction.PurposeId")
        restriction = bits.read(2, "PubRestriction.RestrictionType")
        if restriction == 3:
            raise TCStringError("publisher restriction type 3 is undefined")
        tc.publisher_restrictions.append(
            {"purpose": purpose_id, "type": restriction, "vendors": _ranges(bits, "PubRestriction")}
        )
    if created.year < 2018 or last_updated < created:
        raise TCStringError(
            "TC string timestamps are implausible (created after last update or before TCF)"
        )
    tc.segments = ["core"]
    for segment in parts[1:]:
        kind = _Bits(_b64(segment)).read(3, "SegmentType")
        if kind not in SEGMENT_TYPES or kind == 0:
            raise TCStringError(f"unknown TC string segment type {kind}")
        tc.segments.append(SEGMENT_TYPES[kind])
    return tc


class _Writer:
    def __init__(self) -> None:
        self.bits: list[str] = []

    def int(self, value: int, n: int, name: str) -> None:
        if not isinstance(value, int) or value < 0 or value >= 1 << n:
            raise TCStringError(f"{name} does not fit in {n} bits")
        self.bits.append(format(value, f"0{n}b"))

    def flags(self, ids: list[int], n: int, name: str) -> None:
        if any(not isinstance(i, int) or not 1 <= i <= n for i in ids):
            raise TCStringError(f"{name} holds ids outside 1-{n}")
        self.bits.append("".join("1" if i + 1 in ids else "0" for i in range(n)))

    def letters(self, value: str, name: str) -> None:
        if len(value) != 2 or not value.isascii() or not value.isalpha():
            raise TCStringError(f"{name} is not two letters")
        for c in value.upper():
            self.int(ord(c) - ord("A"), 6, name)

    def ranges(self, ids: list[int], name: str) -> None:
        runs: list[list[int]] = []
        for i in sorted(set(ids)):
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        self.int(len(runs), 12, f"{name}.NumEntries")
        for start, end in runs:
            self.int(int(start != end), 1, f"{name}.IsARange")
            self.int(start, 16, f"{name}.StartOrOnlyVendorId")
            if start != end:
                self.int(end, 16, f"{name}.EndVendorId")

    def vendors(self, ids: list[int], name: str) -> None:
        """The shorter of a bit field and a range list, as the spec lets the encoder choose."""
        max_vendor = max(ids, default=0)
        self.int(max_vendor, 16, f"{name}.MaxVendorId")
        as_ranges = _Writer()
        as_ranges.ranges(ids, name)
        range_bits = "".join(as_ranges.bits)
        if len(range_bits) < max_vendor:
            self.bits.append("1" + range_bits)
        else:
            self.bits.append("0")
            self.flags(ids, max_vendor, f"{name}.BitField")


def encode_tc_string(tc: TCString) -> str:
    """The core segment of a TC string (the inverse of decode_tc_string for that segment)."""
    out = _Writer()
    out.int(tc.version, 6, "Version")
    out.int(round(tc.created.timestamp() * 10), 36, "Created")
    out.int(round(tc.last_updated.timestamp() * 10), 36, "LastUpdated")
    out.int(tc.cmp_id, 12, "CmpId")
    out.int(tc.cmp_version, 12, "CmpVersion")
    out.int(tc.consent_screen, 6, "ConsentScreen")
    out.letters(tc.consent_language, "ConsentLanguage")
    out.int(tc.vendor_list_version, 12, "VendorListVersion")
    out.int(tc.tcf_policy_version, 6, "TcfPolicyVersion")
    out.int(int(tc.is_service_specific), 1, "IsServiceSpecific")
    out.int(int(tc.use_non_standard_texts), 1, "UseNonStandardTexts")
    out.flags(tc.special_feature_opt_ins, 12, "SpecialFeatureOptIns")
    out.flags(tc.purposes_consent, 24, "PurposesConsent")
    out.flags(tc.purposes_li_transparency, 24, "PurposesLITransparency")
    out.int(int(tc.purpose_one_treatment), 1, "PurposeOneTreatment")
    out.letters(tc.publisher_cc, "PublisherCC")
    out.vendors(tc.vendor_consents, "VendorConsents")
    out.vendors(tc.vendor_legitimate_interests, "VendorLegitimateInterests")
    out.int(len(tc.publisher_restrictions), 12, "NumPubRestrictions")
    for restriction in tc.publisher_restrictions:
        out.int(restriction["purpose"], 6, "PubRestriction.PurposeId")
        out.int(restriction["type"], 2, "PubRestriction.RestrictionType")
        out.ranges(restriction["vendors"], "PubRestriction")
    bits = "".join(out.bits)
    bits += "0" * (-len(bits) % 8)
    raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
