"""Demo consent data: a property for the demo shop, notices, choices for demo subjects, and the
shop's record of processing activities (the data map)."""

from __future__ import annotations

import datetime as dt
import random
from typing import IO

from django.conf import settings
from django.utils import timezone

from audit.actors import Actor
from consent.models import (
    ConsentModeMapping,
    ConsentProperty,
    ConsentRecord,
    Notice,
    ProcessingActivity,
    Purpose,
    RetentionPolicy,
)
from consent.regimes import seed_regimes
from consent.services import Proof, consent_record
from core.regions import KNOWN_REGIONS
from profiles.models import Subject, System

DEMO_KEY = "pk_demo_shop"
NOTICE_TEXT = {
    "en": (
        "Your privacy choices",
        "We use your data for the purposes below. Essential processing "
        "runs the shop; everything else is your choice, and you can change it at any time in the "
        "privacy center.",
    ),
    "fr": (
        "Vos choix de confidentialité",
        "Nous utilisons vos données pour les finalités ci-dessous. Le traitement essentiel fait "
        "fonctionner la boutique ; tout le reste dépend de vous, et vous pouvez changer d'avis à "
        "tout moment dans le centre de confidentialité.",
    ),
    "de": (
        "Ihre Datenschutzeinstellungen",
        "Wir verwenden Ihre Daten für die unten genannten Zwecke. Die notwendige Verarbeitung "
        "betreibt den Shop; alles andere entscheiden Sie und können es jederzeit im "
        "Datenschutzcenter ändern.",
    ),
    "es": (
        "Sus opciones de privacidad",
        "Usamos sus datos para los fines siguientes. El tratamiento esencial hace funcionar la "
        "tienda; todo lo demás lo decide usted y puede cambiarlo en cualquier momento en el "
        "centro de privacidad.",
    ),
    "it": (
        "Le tue scelte sulla privacy",
        "Usiamo i tuoi dati per le finalità qui sotto. Il trattamento essenziale fa funzionare "
        "il negozio; tutto il resto è una tua scelta, che puoi cambiare in qualsiasi momento nel "
        "centro privacy.",
    ),
    "nl": (
        "Uw privacykeuzes",
        "We gebruiken uw gegevens voor de doelen hieronder. De noodzakelijke verwerking laat de "
        "winkel werken; al het andere kiest u zelf, en u kunt het altijd wijzigen in het "
        "privacycentrum.",
    ),
    "pt-BR": (
        "Suas escolhas de privacidade",
        "Usamos seus dados para as finalidades abaixo. O tratamento essencial faz a loja "
        "funcionar; todo o resto é escolha sua, e você pode mudar a qualquer momento na central "
        "de privacidade.",
    ),
}

CONTROLLER = "Demo Shop SAS, 1 rue de l'Exemple, 75001 Paris, France"
DPO_CONTACT = "dpo@shop.example (data protection officer)"
SECURITY = (
    "Per-subject AES-256-GCM encryption at rest, TLS in transit, role-based access limited by "
    "region, TOTP for staff, tamper-evident audit log, encrypted backups."
)
# name, purpose slug, lawful basis ("" = the purpose's), data categories, subject categories,
# systems, recipients, transfers, retention (words, days).
ACTIVITIES = [
    (
        "Web analytics",
        "analytics",
        "",
        ["behavioral"],
        ["website visitors", "customers"],
        ["Web shop"],
        ["web analytics provider (processor)"],
        [],
        ("Events 24 months after they occur", 730),
    ),
    (
        "Marketing e-mails",
        "marketing_email",
        "",
        ["contact", "behavioral"],
        ["customers", "prospects"],
        ["CRM", "E-mail platform"],
        ["e-mail service provider (processor)"],
        [{"country": "US", "safeguard": "sccs"}],
        ("Until consent is withdrawn; proof of consent 3 years after that", None),
    ),
    (
        "Order fulfilment",
        "essential",
        "contract",
        ["identity", "contact", "behavioral"],
        ["customers"],
        ["Web shop", "Point of sale", "CRM"],
        ["carriers", "payment provider", "tax authorities"],
        [],
        ("Orders 3 years after delivery; invoices 10 years (commercial law)", 1095),
    ),
    (
        "Fraud prevention",
        "essential",
        "legitimate_interests",
        ["identity", "behavioral"],
        ["customers"],
        ["Web shop", "Point of sale"],
        ["payment provider", "law enforcement on request"],
        [],
        ("13 months after the transaction", 395),
    ),
    (
        "Customer support (CRM)",
        "essential",
        "contract",
        ["identity", "contact", "descriptive"],
        ["customers", "prospects"],
        ["CRM"],
        ["support outsourcing provider (processor)"],
        [],
        ("3 years after the last contact", 1095),
    ),
    (
        "Targeted advertising",
        "sale_sharing",
        "consent",
        ["behavioral"],
        ["website visitors", "customers"],
        ["Web shop", "Ad platform"],
        ["advertising partners"],
        [{"country": "US", "safeguard": "sccs"}],
        ("13 months after collection", 395),
    ),
]


def seed_processing_activities(*, stdout: IO[str]) -> None:
    """The demo shop's Art. 30 record, tied to the demo systems and shipped purposes."""
    systems = {s.name: s for s in System.objects.all()}
    purposes = {p.slug: p for p in Purpose.objects.all()}
    for name, slug, basis, data, subjects, used, recipients, transfers, kept in ACTIVITIES:
        activity, created = ProcessingActivity.objects.update_or_create(
            name=name,
            defaults={
                "purpose": purposes[slug],
                "lawful_basis": basis or purposes[slug].lawful_basis,
                "data_categories": data,
                "subject_categories": subjects,
                "recipients": recipients,
                "transfers": transfers,
                "retention": kept[0],
                "retention_days": kept[1],
                "controller": CONTROLLER,
                "dpo_contact": DPO_CONTACT,
                "security_measures": SECURITY,
            },
        )
        activity.systems.set([systems[n] for n in used if n in systems])
        if created:
            stdout.write(f"  processing activity '{name}'\n")


RETENTION_POLICIES = [
    {
        "name": "Events older than 24 months are deleted",
        "target": RetentionPolicy.Target.EVENTS,
        "max_age_days": 730,
        "description": "Web analytics and order history: 24 months (see the Art. 30 record).",
    },
    {
        "name": "Behavioral attributes older than 36 months in the EU are deleted",
        "target": RetentionPolicy.Target.ATTRIBUTES,
        "data_category": "behavioral",
        "region": "EU",
        "max_age_days": 1095,
        "description": "Profiling data about EU customers is not kept beyond 3 years.",
    },
]


def seed_retention_policies(*, stdout: IO[str]) -> None:
    """Demo retention policies; the daily beat task applies them (preview them in the admin)."""
    for values in RETENTION_POLICIES:
        _, created = RetentionPolicy.objects.update_or_create(
            name=values["name"], defaults={"action": RetentionPolicy.Action.DELETE, **values}
        )
        if created:
            stdout.write(f"  retention policy '{values['name']}'\n")


# Google Consent Mode v2 types of the demo shop and the purposes they stand for.
CONSENT_MODE = {
    "ad_storage": ["sale_sharing"],
    "ad_user_data": ["sale_sharing"],
    "ad_personalization": ["sale_sharing", "personalization"],
    "analytics_storage": ["analytics"],
    "functionality_storage": ["essential"],
    "personalization_storage": ["personalization"],
    "security_storage": ["essential"],
}


def seed_identity_and_consent_mode(prop: ConsentProperty) -> None:
    """The demo shop sells everywhere: its identified visitors may be linked in every region
    (the /demo/identified-visitor/ page); and it speaks Google Consent Mode."""
    if not prop.identity_regions:
        prop.identity_regions = list(KNOWN_REGIONS)
        prop.save(update_fields=["identity_regions"])
    for consent_type, slugs in CONSENT_MODE.items():
        mapping, _ = ConsentModeMapping.objects.get_or_create(
            property=prop, consent_type=consent_type
        )
        mapping.purposes.set(Purpose.objects.filter(slug__in=slugs))


def seed(*, subjects: int, stdout: IO[str]) -> None:
    seed_regimes()
    purposes = list(Purpose.objects.all())
    for language, (title, text) in NOTICE_TEXT.items():
        notice, _ = Notice.objects.get_or_create(
            language=language, version=1, defaults={"title": title, "text": text}
        )
        notice.purposes.set(purposes)
    prop, created = ConsentProperty.objects.get_or_create(
        publishable_key=DEMO_KEY,
        defaults={
            "name": "Demo shop",
            "allowed_origins": sorted(
                {
                    settings.CUSTODIA_PUBLIC_URL,
                    settings.CUSTODIA_PUBLIC_URL.replace("127.0.0.1", "localhost"),
                }
            ),
            "default_region": "EU",
        },
    )
    prop.purposes.set(purposes)
    if created:
        stdout.write(f"  consent property 'Demo shop' (publishable key {DEMO_KEY})\n")
    seed_identity_and_consent_mode(prop)
    seed_processing_activities(stdout=stdout)
    seed_retention_policies(stdout=stdout)
    if ConsentRecord.objects.exists():
        return
    rng = random.Random(7)
    actor = Actor.system("seed_demo")
    notice = Notice.objects.get(language="en", version=1)
    choosable = [p for p in purposes if not p.essential]
    now = timezone.now()
    for subject in Subject.objects.filter(status=Subject.Status.ACTIVE)[:subjects]:
        # Spread over the last 12 weeks, with a grant rate improving as the banner was reworded.
        days_ago = rng.uniform(0, 83)
        when = now - dt.timedelta(days=days_ago)
        grant_rate = 0.75 - days_ago / 300
        for n, purpose in enumerate(rng.sample(choosable, k=rng.randint(1, len(choosable)))):
            state = "granted" if rng.random() < grant_rate else "denied"
            consent_record(
                recorded_at=when + dt.timedelta(milliseconds=n),
                purpose=purpose,
                state=state,
                channel="banner",
                actor=actor,
                subject=subject,
                notice=notice,
                proof=Proof(
                    user_agent="Mozilla/5.0 (demo)",
                    ip="203.0.113.7",
                    gpc=purpose.sale_sharing and state == "denied" and subject.region == "US-CA",
                ),
            )
    stdout.write(f"  {ConsentRecord.objects.count()} demo consent records\n")
