"""The US sections of GPP (IAB Privacy's MSPA technical specifications): usnat and the state
sections, each a core segment of 2-bit fields (0 = not applicable, 1/2 as the field defines)
and, where the specification defines one, a GPC subsection (SubsectionType 1, Gpc).

The sections of 2025 (usmd, usin, usky, usri; usmn keeps the older shape) start with
MspaVersion and the MSPA fields, and usin, usky and usri carry their sensitive-data consents
in an optional second segment of their own (no subsection type: eight 2-bit values)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consent.gpp.bits import BitReader, BitWriter, GPPStringError

GPC_SUBSECTION = 1


@dataclass(frozen=True)
class Int:
    """A 2-bit field; values outside `allowed` are not defined by the specification."""

    name: str
    allowed: tuple[int, ...] = (0, 1, 2)
    default: int = 0


@dataclass(frozen=True)
class IntList:
    """N 2-bit values (one per category), each 0 (not applicable), 1 (no consent), 2 (consent)."""

    name: str
    count: int


Field = Int | IntList


@dataclass(frozen=True)
class USSection:
    name: str
    id: int
    layouts: dict[int, tuple[Field, ...]]  # version -> core segment fields after the version
    gpc: bool
    version_field: str = "Version"
    # The optional second segment of usin, usky and usri: their sensitive-data consents.
    sensitive_segment: IntList | None = None

    @property
    def subsections(self) -> int:
        return 2 if self.gpc or self.sensitive_segment else 1

    @property
    def version(self) -> int:
        return max(self.layouts)


_MSPA = (
    Int("MspaCoveredTransaction", allowed=(1, 2), default=1),
    Int("MspaOptOutOptionMode"),
    Int("MspaServiceProviderMode"),
)


def _fields(*names: str | Field) -> tuple[Field, ...]:
    return tuple(Int(n) if isinstance(n, str) else n for n in names) + _MSPA


def _usnat(sensitive: int, child: int) -> tuple[Field, ...]:
    return _fields(
        "SharingNotice",
        "SaleOptOutNotice",
        "SharingOptOutNotice",
        "TargetedAdvertisingOptOutNotice",
        "SensitiveDataProcessingOptOutNotice",
        "SensitiveDataLimitUseNotice",
        "SaleOptOut",
        "SharingOptOut",
        "TargetedAdvertisingOptOut",
        IntList("SensitiveDataProcessing", sensitive),
        IntList("KnownChildSensitiveDataConsents", child),
        "PersonalDataConsents",
    )


def _state(
    notice: str,
    sensitive: int,
    child: int | None,
    *,
    additional: bool = True,
    sensitive_notice: str = "",
) -> tuple[Field, ...]:
    """The common shape of the state sections: a notice, sale and targeted-advertising opt-out
    notices and opt-outs, sensitive data, known-child consents (one value or a list)."""
    head: list[str | Field] = [notice, "SaleOptOutNotice", "TargetedAdvertisingOptOutNotice"]
    if sensitive_notice:
        head.append(sensitive_notice)
    head += [
        "SaleOptOut",
        "TargetedAdvertisingOptOut",
        IntList("SensitiveDataProcessing", sensitive),
        Int("KnownChildSensitiveDataConsents")
        if child is None
        else IntList("KnownChildSensitiveDataConsents", child),
    ]
    if additional:
        head.append("AdditionalDataProcessingConsent")
    return _fields(*head)


def _mspa_first(*, child: bool) -> tuple[Field, ...]:
    """The 2025 layout (usmd, usin, usky, usri): the MSPA fields first, then the notices,
    opt-outs and consents (sensitive data: none in usmd, its own segment in the others)."""
    head: list[Field] = [
        Int("MspaCoveredTransaction", allowed=(1, 2), default=1),
        Int("MspaMode"),
        Int("ProcessingNotice"),
        Int("SaleOptOutNotice"),
        Int("TargetedAdvertisingOptOutNotice"),
        Int("SaleOptOut"),
        Int("TargetedAdvertisingOptOut"),
    ]
    if child:
        head.append(Int("KnownChildSensitiveDataConsents"))
    head.append(Int("AdditionalDataProcessingConsent"))
    return tuple(head)


_SENSITIVE_SEGMENT = IntList("SensitiveDataProcessing", 8)

_USCA = _fields(
    "SaleOptOutNotice",
    "SharingOptOutNotice",
    "SensitiveDataLimitUseNotice",
    "SaleOptOut",
    "SharingOptOut",
    IntList("SensitiveDataProcessing", 9),
    IntList("KnownChildSensitiveDataConsents", 2),
    "PersonalDataConsents",
)

US_SECTIONS: dict[str, USSection] = {
    s.name: s
    for s in (
        USSection("usnat", 7, {1: _usnat(12, 2), 2: _usnat(16, 3)}, gpc=True),
        USSection("usca", 8, {1: _USCA}, gpc=True),
        USSection("usva", 9, {1: _state("SharingNotice", 8, None, additional=False)}, gpc=False),
        USSection("usco", 10, {1: _state("SharingNotice", 7, None, additional=False)}, gpc=True),
        USSection(
            "usut",
            11,
            {
                1: _state(
                    "SharingNotice",
                    8,
                    None,
                    additional=False,
                    sensitive_notice="SensitiveDataProcessingOptOutNotice",
                )
            },
            gpc=False,
        ),
        USSection("usct", 12, {1: _state("SharingNotice", 8, 3, additional=False)}, gpc=True),
        USSection("usfl", 13, {1: _state("ProcessingNotice", 8, 3)}, gpc=False),
        USSection("usmt", 14, {1: _state("SharingNotice", 8, 3)}, gpc=True),
        USSection("usor", 15, {1: _state("ProcessingNotice", 11, 3)}, gpc=True),
        USSection("ustx", 16, {1: _state("ProcessingNotice", 8, None)}, gpc=True),
        USSection("usde", 17, {1: _state("ProcessingNotice", 9, 5)}, gpc=True),
        USSection(
            "usia",
            18,
            {
                1: _state(
                    "ProcessingNotice",
                    8,
                    None,
                    additional=False,
                    sensitive_notice="SensitiveDataOptOutNotice",
                )
            },
            gpc=True,
        ),
        USSection("usne", 19, {1: _state("ProcessingNotice", 8, None)}, gpc=True),
        USSection("usnh", 20, {1: _state("ProcessingNotice", 8, 3)}, gpc=True),
        USSection("usnj", 21, {1: _state("ProcessingNotice", 10, 5)}, gpc=True),
        USSection("ustn", 22, {1: _state("ProcessingNotice", 8, None)}, gpc=True),
        USSection("usmn", 23, {1: _state("ProcessingNotice", 8, None)}, gpc=True),
        USSection(
            "usmd",
            24,
            {1: _mspa_first(child=False)},
            gpc=True,
            version_field="MspaVersion",
        ),
        *(
            USSection(
                name,
                id_,
                {1: _mspa_first(child=True)},
                gpc=False,
                version_field="MspaVersion",
                sensitive_segment=_SENSITIVE_SEGMENT,
            )
            for name, id_ in (("usin", 25), ("usky", 26), ("usri", 27))
        ),
    )
}


def _check(section: str, field: Field, value: Any) -> None:
    if isinstance(field, Int):
        if type(value) is not int or value not in field.allowed:
            raise GPPStringError(
                f"{value!r} is not one of {', '.join(map(str, field.allowed))}",
                section=section,
                field=field.name,
            )
        return
    if (
        not isinstance(value, list)
        or len(value) != field.count
        or any(type(v) is not int or v not in (0, 1, 2) for v in value)
    ):
        raise GPPStringError(
            f"must be a list of {field.count} values, each 0, 1 or 2",
            section=section,
            field=field.name,
        )


def _read_fields(spec: USSection, bits: BitReader, fields: tuple[Field, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        if isinstance(field, Int):
            out[field.name] = bits.int(2, field.name)
        else:
            out[field.name] = [bits.int(2, field.name) for _ in range(field.count)]
        _check(spec.name, field, out[field.name])
    return out


def _write_fields(
    spec: USSection, bits: BitWriter, fields: tuple[Field, ...], values: dict[str, Any]
) -> None:
    for field in fields:
        default = field.default if isinstance(field, Int) else [0] * field.count
        value = values.get(field.name, default)
        _check(spec.name, field, value)
        for item in value if isinstance(value, list) else [value]:
            bits.int(item, 2)


def decode_us_section(spec: USSection, encoded: str) -> list[dict[str, Any]]:
    """The section's segments as the CMP API shows them: the core segment, then the GPC
    subsection (or, in usin, usky and usri, the sensitive-data segment) when present."""
    parts = encoded.split(".")
    if len(parts) > spec.subsections:
        raise GPPStringError("has more subsections than its specification", section=spec.name)
    bits = BitReader(parts[0], section=spec.name)
    version = bits.int(6, spec.version_field)
    if version not in spec.layouts:
        raise GPPStringError(
            f"unsupported version {version} (known: {', '.join(map(str, spec.layouts))})",
            section=spec.name,
            field=spec.version_field,
        )
    core: dict[str, Any] = {spec.version_field: version}
    core.update(_read_fields(spec, bits, spec.layouts[version]))
    segments = [core]
    if len(parts) == 2 and spec.sensitive_segment is not None:
        second = BitReader(parts[1], section=spec.name)
        segments.append(_read_fields(spec, second, (spec.sensitive_segment,)))
    elif len(parts) == 2:
        gpc_bits = BitReader(parts[1], section=spec.name)
        kind = gpc_bits.int(2, "SubsectionType")
        if kind != GPC_SUBSECTION:
            raise GPPStringError(
                f"unknown subsection type {kind} (GPC is {GPC_SUBSECTION})",
                section=spec.name,
                field="SubsectionType",
            )
        segments.append({"SubsectionType": kind, "Gpc": gpc_bits.bool("Gpc")})
    return segments


def encode_us_section(spec: USSection, segments: list[dict[str, Any]]) -> str:
    """Encode a section from its segments (missing core fields take their default; the GPC
    subsection or the sensitive-data segment is written when given)."""
    if not segments or len(segments) > spec.subsections:
        raise GPPStringError("wrong number of segments", section=spec.name)
    core = dict(segments[0])
    version = core.pop(spec.version_field, spec.version)
    if version not in spec.layouts:
        raise GPPStringError(
            f"unsupported version {version!r}", section=spec.name, field=spec.version_field
        )
    layout = spec.layouts[version]
    unknown = sorted(set(core) - {f.name for f in layout})
    if unknown:
        raise GPPStringError(
            f"unknown field for version {version}", section=spec.name, field=unknown[0]
        )
    bits = BitWriter()
    bits.int(version, 6)
    _write_fields(spec, bits, layout, core)
    out = [bits.base64url()]
    if len(segments) == 2 and spec.sensitive_segment is not None:
        sub = BitWriter()
        _write_fields(spec, sub, (spec.sensitive_segment,), segments[1])
        out.append(sub.base64url())
    elif len(segments) == 2:
        gpc = segments[1].get("Gpc", False)
        if not isinstance(gpc, bool):
            raise GPPStringError("must be true or false", section=spec.name, field="Gpc")
        sub = BitWriter()
        sub.int(GPC_SUBSECTION, 2)
        sub.bool(gpc)
        out.append(sub.base64url())
    return ".".join(out)
