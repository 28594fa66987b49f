"""The regions Custodia knows: a subject's region decides its jurisdiction and who may see it."""

from __future__ import annotations

# The US states with a comprehensive privacy law (consent/regimes.py); other US residents are "US".
US_STATE_REGIONS = (
    "US-CA",
    "US-VA",
    "US-CO",
    "US-CT",
    "US-UT",
    "US-TX",
    "US-OR",
    "US-MT",
    "US-IA",
    "US-DE",
    "US-NH",
    "US-NJ",
    "US-NE",
    "US-TN",
    "US-MN",
    "US-MD",
    "US-IN",
    "US-KY",
    "US-RI",
)

KNOWN_REGIONS = ("EU", "GB", *US_STATE_REGIONS, "BR", "CA", "US")
