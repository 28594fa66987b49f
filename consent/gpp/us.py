"""The US sections of GPP (IAB Privacy's MSPA technical specifications): usnat and the state
sections, each a core segment of 2-bit fields (0 = not applicable, 1/2 as the field defines)
and, where the specification defines one, a GPC subsection (SubsectionType 1, Gpc)."""

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
    layouts: dict[int, tuple[Field, ...]]  # version -> core segment fields after Version
    gpc: bool

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


def decode_us_section(spec: USSection, encoded: str) -> list[dict[str, Any]]:
    """The section's segments as the CMP API shows them: the core segment, then the GPC
    subsection when present."""
    parts = encoded.split(".")
    if len(parts) > (2 if spec.gpc else 1):
        raise GPPStringError("has more subsections than its specification", section=spec.name)
    bits = BitReader(parts[0], section=spec.name)
    version = bits.int(6, "Version")
    if version not in spec.layouts:
        raise GPPStringError(
            f"unsupported version {version} (known: {', '.join(map(str, spec.layouts))})",
            section=spec.name,
            field="Version",
        )
    core: dict[str, Any] = {"Version": version}
    for field in spec.layouts[version]:
        if isinstance(field, Int):
            core[field.name] = bits.int(2, field.name)
        else:
            core[field.name] = [bits.int(2, field.name) for _ in range(field.count)]
        _check(spec.name, field, core[field.name])
    segments = [core]
    if len(parts) == 2:
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
    subsection is written when given)."""
    if not segments or len(segments) > (2 if spec.gpc else 1):
        raise GPPStringError("wrong number of segments", section=spec.name)
    core = dict(segments[0])
    version = core.pop("Version", spec.version)
    if version not in spec.layouts:
        raise GPPStringError(f"unsupported version {version!r}", section=spec.name, field="Version")
    layout = spec.layouts[version]
    unknown = sorted(set(core) - {f.name for f in layout})
    if unknown:
        raise GPPStringError(
            f"unknown field for version {version}", section=spec.name, field=unknown[0]
        )
    bits = BitWriter()
    bits.int(version, 6)
    for field in layout:
        default = field.default if isinstance(field, Int) else [0] * field.count
        value = core.get(field.name, default)
        _check(spec.name, field, value)
        for item in value if isinstance(value, list) else [value]:
            bits.int(item, 2)
    out = [bits.base64url()]
    if len(segments) == 2:
        gpc = segments[1].get("Gpc", False)
        if not isinstance(gpc, bool):
            raise GPPStringError("must be true or false", section=spec.name, field="Gpc")
        sub = BitWriter()
        sub.int(GPC_SUBSECTION, 2)
        sub.bool(gpc)
        out.append(sub.base64url())
    return ".".join(out)
