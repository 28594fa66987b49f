"""Choosing a language from what the visitor's browser asks for (Accept-Language or
navigator.languages) among the languages a text exists in."""

from __future__ import annotations

from collections.abc import Iterable


def preferred_languages(raw: str) -> list[str]:
    """'de-CH,de;q=0.9,en;q=0.5' or 'de-CH,de,en' -> ['de-ch', 'de', 'en'], most wanted first."""
    weighted = []
    for position, part in enumerate(raw.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        if not tag or tag == "*" or len(tag) > 16:
            continue
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if weight > 0:
            weighted.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def language_match(preferred: Iterable[str], available: Iterable[str]) -> str | None:
    """The first preferred language that exists, exactly or by its primary subtag ('de-ch'
    matches 'de', 'pt' matches 'pt-BR'); spelled as in `available`. None if nothing matches."""
    by_lower = {language.lower(): language for language in available}
    for tag in preferred:
        tag = tag.lower()
        if tag in by_lower:
            return by_lower[tag]
        primary = tag.split("-")[0]
        if primary in by_lower:
            return by_lower[primary]
        for lower, language in by_lower.items():
            if lower.split("-")[0] == primary:
                return language
    return None
