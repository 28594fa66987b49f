"""Google Consent Mode v2 signals from the property's purposes: the defaults per region that
the banner script pushes to the dataLayer before any tag runs, and the mapping it uses to send
`update` when the visitor chooses (docs/consent.md)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from consent.models import ConsentModeMapping, ConsentProperty, Jurisdiction
from consent.refdata import refdata
from consent.selectors import in_force

TYPES = list(ConsentModeMapping.ConsentType.values)
WAIT_FOR_UPDATE_MS = 500
# Region "EU" covers the EEA: gtag's `region` takes ISO 3166 country codes.
EEA = [
    *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"),
    *("IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"),
    *("IS", "LI", "NO"),
]


def _gtag_regions(region: str) -> list[str]:
    return EEA if region == "EU" else [region]


def consent_mode_mapping(prop: ConsentProperty) -> dict[str, list[str]]:
    """Consent type -> the slugs of the property's purposes it stands for."""
    return dict(refdata().consent_mode.get(prop.pk, {}))


def _defaults(
    mapping: dict[str, list[str]], jurisdiction: Jurisdiction, purposes: dict[str, Any]
) -> dict[str, str]:
    """A type is granted by default when every purpose it stands for is: essential, or not
    sensitive under an opt-out regime. Opt-in regimes (EEA, UK, ...) deny all but essentials."""
    opt_out = jurisdiction.consent_model == Jurisdiction.ConsentModel.OPT_OUT
    states = {}
    for consent_type in TYPES:
        mapped = [purposes[slug] for slug in mapping.get(consent_type, []) if slug in purposes]
        granted = bool(mapped) and all(p.essential or (opt_out and not p.sensitive) for p in mapped)
        states[consent_type] = "granted" if granted else "denied"
    return states


def consent_mode_defaults(prop: ConsentProperty) -> dict[str, Any]:
    """What the banner script needs before any network call: the mapping, the wait for the
    update, and per regime in force today its gtag regions, its default states and the types a
    GPC signal denies there (those standing for a sale/sharing purpose)."""
    data = refdata()
    mapping = consent_mode_mapping(prop)
    purposes = {p.slug: p for p in data.property_purposes.get(prop.pk, [])}
    sale_types = sorted(
        t
        for t, slugs in mapping.items()
        if any(getattr(purposes.get(s), "sale_sharing", 0) for s in slugs)
    )
    today = timezone.localdate()
    regimes = []
    for jurisdiction in data.jurisdictions.values():
        if not jurisdiction.regions:
            continue
        governing = in_force(jurisdiction)
        regimes.append(
            {
                "regions": list(jurisdiction.regions),
                "gtag_regions": [
                    r for region in jurisdiction.regions for r in _gtag_regions(region)
                ],
                "defaults": _defaults(mapping, governing, purposes),
                "gpc_denies": sale_types if governing.honours_gpc_on(today) else [],
            }
        )
    return {
        "types": TYPES,
        "mapping": mapping,
        "wait_for_update": WAIT_FOR_UPDATE_MS,
        "regimes": regimes,
    }
