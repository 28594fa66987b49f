"""The regions Custodia knows: a subject's region decides its jurisdiction and who may see it."""

from __future__ import annotations

KNOWN_REGIONS = ("EU", "GB", "US-CA", "US-VA", "US-CO", "US-CT", "BR", "CA", "US")
