"""What a person and an officer read about a request: names of request types in plain words
with the legal reference of the request's own regime (never CCPA sections to an EU person),
where to complain, retention periods in years or months, and step results as sentences."""

from __future__ import annotations

from typing import Any

from consent.regimes import supervisory_authorities
from dsar.deadlines import period as period
from dsar.models import DataSubjectRequest

Kind = DataSubjectRequest.Kind

# Plain names, as a person says them.
KIND_NOUNS: dict[str, str] = {
    Kind.ACCESS: "access request",
    Kind.PORTABILITY: "data portability request",
    Kind.ERASURE: "erasure request",
    Kind.RECTIFICATION: "rectification request",
    Kind.RESTRICTION: "request to restrict processing",
    Kind.OBJECTION: "objection to processing",
    Kind.OPT_OUT: "request to opt out of sale and sharing",
}

_GDPR = {
    Kind.ACCESS: "Art. 15",
    Kind.PORTABILITY: "Art. 20",
    Kind.ERASURE: "Art. 17",
    Kind.RECTIFICATION: "Art. 16",
    Kind.RESTRICTION: "Art. 18",
    Kind.OBJECTION: "Art. 21",
}
# The article or section of each regime that grants the right; kinds a regime does not name
# are mentioned without a reference.
LEGAL_REFERENCES: dict[str, dict[str, str]] = {
    "GDPR": {kind: f"GDPR {article}" for kind, article in _GDPR.items()},
    "UK-GDPR": {kind: f"UK GDPR {article}" for kind, article in _GDPR.items()},
    "CCPA": {
        Kind.ACCESS: "CCPA right to know, Cal. Civ. Code §1798.110",
        Kind.PORTABILITY: "CCPA, Cal. Civ. Code §1798.130",
        Kind.ERASURE: "CCPA right to delete, Cal. Civ. Code §1798.105",
        Kind.RECTIFICATION: "CPRA right to correct, Cal. Civ. Code §1798.106",
        Kind.OPT_OUT: "CCPA right to opt out, Cal. Civ. Code §1798.120",
    },
    "LGPD": {
        Kind.ACCESS: "LGPD Art. 18, II",
        Kind.RECTIFICATION: "LGPD Art. 18, III",
        Kind.PORTABILITY: "LGPD Art. 18, V",
        Kind.ERASURE: "LGPD Art. 18, VI",
        Kind.OBJECTION: "LGPD Art. 18, §2",
    },
}


def with_article(noun: str) -> str:
    """`an access request`, `a rectification request`."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def kind_phrase(request: DataSubjectRequest) -> str:
    """The request type for the person: plain words with their regime's legal reference,
    e.g. `an access request (GDPR Art. 15)`."""
    noun = KIND_NOUNS[request.kind]
    reference = LEGAL_REFERENCES.get(request.jurisdiction, {}).get(request.kind)
    return with_article(noun) + (f" ({reference})" if reference else "")


def complaint_line(request: DataSubjectRequest) -> str:
    """Where the person may complain under their regime: the same authorities their access
    archive names (`consent.regimes.supervisory_authorities`)."""
    bodies = [
        f"{entry['name']} ({entry['url']})"
        for entry in supervisory_authorities(request.jurisdiction)
    ]
    if not bodies:
        return "You may lodge a complaint with a data protection supervisory authority."
    return "You may lodge a complaint with " + " or ".join(bodies) + "."


_RESULT_LABELS = {
    "subject_found": ("subject found", "no subject found"),
    "already_erased": ("already erased", "not yet erased"),
    "data_key_destroyed": ("data key destroyed", "data key kept"),
    "mailed": ("person mailed", "nobody to mail"),
    "completed": ("completed", "not completed"),
}
_COUNT_LABELS = {
    "systems": ("connected system", "connected systems"),
    "systems_done": ("connected system done", "connected systems done"),
    "events": ("event", "events"),
    "consent_records": ("consent record", "consent records"),
    "identifiers": ("identifier", "identifiers"),
    "attributes": ("attribute", "attributes"),
    "events_kept": ("event kept", "events kept"),
    "suppressed_identities": ("identity suppressed", "identities suppressed"),
}
# Counts that mean "deleted" in the erasure step's result.
_DELETED = {"identifiers", "attributes", "events"}


def result_text(result: Any, *, step: str = "") -> str:
    """A step's PII-free result as a sentence an officer reads (no Python dict)."""
    if not isinstance(result, dict):
        return "" if result in (None, "") else str(result)
    parts = []
    for key, value in result.items():
        if key in ("archive", "subject_id") or (
            key in ("kept_until", "kept_because") and "kept" in result
        ):
            continue  # internal ids, or said better by "kept"
        if key == "kept" and isinstance(value, list):
            parts.extend(
                f"{k.get('count')} {k.get('records')} record{'s' if k.get('count') != 1 else ''}"
                f" kept until {k.get('until')} ({k.get('reason')})"
                for k in value
                if isinstance(k, dict)
            )
            continue
        if key in _RESULT_LABELS and isinstance(value, bool):
            parts.append(_RESULT_LABELS[key][0 if value else 1])
        elif key == "bytes" and isinstance(value, int):
            parts.append(f"{value / 1024:.1f} KB" if value >= 1024 else f"{value} bytes")
        elif key in _COUNT_LABELS and isinstance(value, int):
            label = _COUNT_LABELS[key][0 if value == 1 else 1]
            if step == "erase" and key in _DELETED:
                label += " deleted"
            parts.append(f"{value} {label}")
        elif key.endswith("_until") or key.endswith("_at"):
            parts.append(f"{key.replace('_', ' ')} {str(value)[:10]}")
        elif isinstance(value, list):
            shown = ", ".join(result_text(v) for v in value) or "none"
            parts.append(f"{key.replace('_', ' ')}: {shown}")
        elif isinstance(value, dict):
            parts.append(f"{key.replace('_', ' ')}: {result_text(value) or 'nothing'}")
        elif isinstance(value, bool):
            parts.append(f"{key.replace('_', ' ')}: {'yes' if value else 'no'}")
        else:
            parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)
