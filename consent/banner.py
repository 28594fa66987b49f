"""What the public banner and privacy center need: configuration for a visitor, their current
choices, recording choices with proof and Global Privacy Control."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from audit.actors import Actor
from consent.consent_mode import consent_mode_mapping
from consent.gpp.visitor import PurposeChoice, visitor_gpp
from consent.models import (
    ConsentProperty,
    ConsentRecord,
    CurrentConsent,
    Jurisdiction,
    Notice,
)
from consent.refdata import refdata
from consent.selectors import jurisdiction_for_region, visitor_consent_now
from consent.services import (
    ChainHead,
    ConsentEntry,
    Proof,
    consent_record,
    consent_record_many,
    consent_record_many_after,
    visitor_append_unlocked_applies,
    visitor_choices_follow,
    visitor_lock,
)
from consent.tcf import tc_string_checked
from core.errors import DomainError
from core.languages import language_match, preferred_languages

DENIED = ConsentRecord.State.DENIED
GRANTED = ConsentRecord.State.GRANTED


def _region(prop: ConsentProperty, region: str) -> tuple[str, Jurisdiction]:
    region = (region or prop.default_region).upper()
    return region, jurisdiction_for_region(region)


def _notice(prop: ConsentProperty, languages: str) -> Notice | None:
    """The latest notice in the first of `languages` (an Accept-Language value or a list like
    navigator.languages) it exists in, else in the property's default language."""
    latest: dict[str, Notice] = {}
    for notice in (
        Notice.objects.filter(purposes__in=prop.purposes.all()).distinct().order_by("-version")
    ):
        latest.setdefault(notice.language, notice)
    language = language_match(preferred_languages(languages), latest)
    return latest.get(language or prop.default_language) or latest.get(prop.default_language)


def ui_language(preferred: str, fallback: str) -> str:
    """The hub language (settings.LANGUAGES) closest to `preferred`, else `fallback`, else en."""
    codes = [code for code, _ in settings.LANGUAGES]
    return (
        language_match(preferred_languages(preferred), codes)
        or language_match([fallback], codes)
        or settings.LANGUAGE_CODE
    )


def banner_texts(language: str) -> dict[str, str]:
    """The banner's own words, translated through Django's catalogues (locale/)."""
    with translation.override(language):
        return {
            "dialog": gettext("Privacy choices"),
            "accept_all": gettext("Accept all"),
            "reject_all": gettext("Reject all"),
            "save": gettext("Save choices"),
            "always_on": gettext("always on"),
            "privacy_center": gettext("Privacy center"),
            "gpc_honoured": gettext(
                "Your browser's Global Privacy Control signal is honoured: you are opted out "
                "of the sale or sharing of your personal information."
            ),
        }


def visitor_choices(*, visitor_id: str) -> dict[str, dict[str, Any]]:
    """The visitor's current choices; expired grants are left out so the banner asks again."""
    return _visitor_state(visitor_id)[0]


def _visitor_state(visitor_id: str) -> tuple[dict[str, dict[str, Any]], ChainHead, bool]:
    """The visitor's current choices, the head of their ledger chain and whether they were
    identified, in one query: every record of a visitor updates its purpose's projection row,
    so the newest projection row points at the chain's last record."""
    rows, linked = visitor_consent_now(visitor_id=visitor_id)
    slugs = {p.pk: p.slug for p in refdata().purposes.values()}
    now, choices, head = timezone.now(), {}, ChainHead()
    for purpose_id, state, gpc, recorded_at, expires_at, record_hash in rows:
        if head.recorded_at is None or recorded_at > head.recorded_at:
            head = ChainHead(recorded_at=recorded_at, hash=record_hash)
        if state == GRANTED and expires_at is not None and expires_at < now:
            continue
        choices[slugs[purpose_id]] = {
            "state": state,
            "gpc": gpc,
            "recorded_at": recorded_at.isoformat(),
        }
    return choices, head, linked


def _apply_gpc(
    *,
    prop: ConsentProperty,
    visitor_id: str,
    region: str,
    jurisdiction: Jurisdiction,
    proof: dict,
    actor: Actor,
) -> None:
    """Where the regime honours GPC, the signal opts the visitor out of sale/sharing, unless
    they are already opted out, or the regime lets an explicit later opt-in override it."""
    if not (proof.get("gpc") and jurisdiction.honours_gpc_on(timezone.localdate()) and visitor_id):
        return
    with transaction.atomic():
        visitor_lock(visitor_id=visitor_id)  # two page loads at once opt out once
        recorded = False
        for purpose in prop.purposes.filter(sale_sharing=True):
            current = CurrentConsent.objects.filter(
                subject__isnull=True, visitor_id=visitor_id, purpose=purpose
            ).first()
            if current is not None and current.state == DENIED:
                continue
            if (
                current is not None
                and current.state == GRANTED
                and not current.gpc
                and jurisdiction.gpc_overridable
            ):
                continue
            consent_record(
                purpose=purpose,
                state=DENIED,
                channel="banner",
                actor=actor,
                visitor_id=visitor_id,
                region=region,
                proof=Proof(**proof),
            )
            recorded = True
        if recorded:
            visitor_choices_follow(visitor_id=visitor_id)


def banner_config(
    *, prop: ConsentProperty, region: str, language: str, visitor_id: str, proof: dict, actor: Actor
) -> dict[str, Any]:
    """Purposes, regime, current choices and the notice in the first of the visitor's
    `language`s it exists in (else the property's default), with the banner's own words in the
    same language where the hub speaks it."""
    region, jurisdiction = _region(prop, region)
    _apply_gpc(
        prop=prop,
        visitor_id=visitor_id,
        region=region,
        jurisdiction=jurisdiction,
        proof=proof,
        actor=actor,
    )
    notice = _notice(prop, language)
    opt_out = jurisdiction.consent_model == Jurisdiction.ConsentModel.OPT_OUT
    current = visitor_choices(visitor_id=visitor_id) if visitor_id else {}
    shown = notice.language if notice else ""
    return {
        "property": prop.name,
        "region": region,
        "language": shown or prop.default_language,
        "texts": banner_texts(ui_language(shown or language, prop.default_language)),
        "consent_mode": consent_mode_mapping(prop),
        "jurisdiction": {
            "code": jurisdiction.code,
            "name": jurisdiction.name,
            "consent_model": jurisdiction.consent_model,
            "honours_gpc": jurisdiction.honours_gpc_on(timezone.localdate()),
        },
        "gpc": bool(proof.get("gpc")),
        "notice": (
            {
                "id": notice.pk,
                "version": notice.version,
                "language": notice.language,
                "title": notice.title,
                "text": notice.text,
            }
            if notice
            else None
        ),
        "purposes": [
            {
                "slug": p.slug,
                "name": p.name,
                "description": p.description,
                "essential": p.essential,
                "sale_sharing": p.sale_sharing,
                "default": "granted" if p.essential or (opt_out and not p.sensitive) else "denied",
            }
            for p in prop.purposes.order_by("-essential", "slug")
        ],
        "current": current,
        "gpp": _gpp(
            prop=prop,
            region=region,
            jurisdiction=jurisdiction,
            states={slug: row["state"] for slug, row in current.items()},
            gpc=bool(proof.get("gpc")),
            notice_shown=notice is not None,
        ),
    }


def banner_record_choices(
    *,
    prop: ConsentProperty,
    visitor_id: str,
    region: str,
    choices: dict[str, str],
    notice_id: int | None,
    tc_string: str,
    proof: dict,
    actor: Actor,
) -> dict[str, Any]:
    """Record a visitor's choices: one ledger record per purpose whose state changes. Under a
    regime honouring GPC, a sale/sharing grant sent with the signal is recorded as a GPC
    opt-out, unless the regime lets an explicit opt-in override the signal."""
    region, jurisdiction = _region(prop, region)
    purposes = {p.slug: p for p in refdata().property_purposes.get(prop.pk, [])}
    unknown = sorted(set(choices) - set(purposes))
    if unknown:
        raise DomainError(
            "Unknown purposes for this property.",
            code="unknown_purpose",
            fields={"choices": [f"unknown: {', '.join(unknown)}"]},
        )
    notice, notice_purposes, language = None, set(), ""
    if notice_id is not None:
        # One query: the notice's purposes and language (none when it does not exist). The
        # notice cited must be one this property shows (it asks for one of its purposes): a
        # record's notice is the proof of what the visitor was told.
        rows = list(Notice.objects.filter(pk=notice_id).values_list("purposes", "language"))
        notice_purposes = {purpose for purpose, _ in rows} - {None}
        if not notice_purposes & {p.pk for p in purposes.values()}:
            raise DomainError(
                "This notice is not one this property shows.",
                code="unknown_notice",
                fields={"notice": ["not a notice of this property"]},
            )
        notice, language = Notice(pk=notice_id), rows[0][1]
    if tc_string:
        tc_string_checked(tc_string)
    gpc_applies = bool(proof.get("gpc")) and jurisdiction.honours_gpc_on(timezone.localdate())

    def decide(current: dict[str, dict[str, Any]]) -> tuple[list[ConsentEntry], dict[str, Any]]:
        """The records the choices make on the visitor's `current` choices, and the GPP string
        shown after them (kept as each record's proof)."""
        entries = []
        for slug, state in choices.items():
            purpose = purposes[slug]
            if purpose.essential:
                continue
            if (
                gpc_applies
                and purpose.sale_sharing
                and state == GRANTED
                and not jurisdiction.gpc_overridable
            ):
                state = DENIED
            if current.get(slug, {}).get("state") == state:
                continue
            record_proof = Proof(
                **{
                    **proof,
                    "gpc": bool(proof.get("gpc")) and purpose.sale_sharing and state == DENIED,
                },
                tc_string=tc_string,
                language=language,
            )
            entries.append(
                ConsentEntry(
                    purpose=purpose,
                    state=state,
                    notice=notice if purpose.pk in notice_purposes else None,
                    proof=record_proof,
                )
            )
        gpp = _gpp(
            prop=prop,
            region=region,
            jurisdiction=jurisdiction,
            states={slug: row["state"] for slug, row in current.items()}
            | {e.purpose.slug: e.state for e in entries},
            gpc=bool(proof.get("gpc")),
            notice_shown=notice is not None,
            tc_string=tc_string,
        )
        entries = [
            dataclasses.replace(e, proof=dataclasses.replace(e.proof, gpp_string=gpp["string"]))
            for e in entries
        ]
        return entries, gpp

    records: list[ConsentRecord] | None = None
    linked = False
    if visitor_append_unlocked_applies():
        append = functools.partial(
            consent_record_many_after,
            channel="banner",
            actor=actor,
            visitor_id=visitor_id,
            region=region,
            jurisdiction=jurisdiction,
        )
        # Most writes are a visitor's first choice: decided as for a visitor never seen,
        # without a read, and appended in one statement that takes the visitor's lock and
        # writes only if they have no record and were not identified. One round trip.
        current: dict[str, dict[str, Any]] = {}
        entries, gpp = decide(current)
        if entries:
            records = append(entries=entries, chain_head=ChainHead(), unlinked=True)
        if records is None:
            # A visitor seen before: decided on a read without the lock, appended only if no
            # record of the visitor came in between (else decided again below, under it).
            current, head, linked = _visitor_state(visitor_id)
            entries, gpp = decide(current)
            records = append(entries=entries, chain_head=head)
    if records is None:
        with transaction.atomic():
            # Under the visitor's lock: a retry sent while the first request is still in
            # flight sees what that one wrote, so an unchanged choice is not recorded twice.
            visitor_lock(visitor_id=visitor_id)
            current, head, linked = _visitor_state(visitor_id)
            entries, gpp = decide(current)
            records = consent_record_many(
                entries=entries,
                channel="banner",
                actor=actor,
                visitor_id=visitor_id,
                region=region,
                lock_held=True,
                chain_head=head,
            )
    if records and linked:
        visitor_choices_follow(visitor_id=visitor_id)  # an identified visitor's choices follow
    for record in records:  # what was just written, without reading it back
        current[record.purpose.slug] = {
            "state": record.state,
            "gpc": record.gpc,
            "recorded_at": record.recorded_at.isoformat(),
        }
    return {
        "visitor_id": visitor_id,
        "region": region,
        "jurisdiction": jurisdiction.code,
        "current": current,
        "gpp": gpp,
    }


# --- IAB GPP: the string the banner's __gpp API shows, computed here (consent.gpp encodes) ---


def _gpp(
    *,
    prop: ConsentProperty,
    region: str,
    jurisdiction: Jurisdiction,
    states: dict[str, str],
    gpc: bool,
    notice_shown: bool,
    tc_string: str = "",
) -> dict[str, Any]:
    """The visitor's GPP string and sections from their state per purpose (essential purposes
    always granted; a purpose without a choice at the banner's default for the regime), their
    region and GPC signal."""
    opt_out = jurisdiction.consent_model == Jurisdiction.ConsentModel.OPT_OUT
    choices = [
        PurposeChoice(
            sale_sharing=p.sale_sharing,
            sensitive=p.sensitive,
            state=GRANTED
            if p.essential
            else states.get(p.slug, GRANTED if opt_out and not p.sensitive else DENIED),
        )
        for p in refdata().property_purposes.get(prop.pk, [])
    ]
    return visitor_gpp(
        region=region, choices=choices, gpc=gpc, notice_shown=notice_shown, tc_string=tc_string
    )
