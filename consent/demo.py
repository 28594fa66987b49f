"""Demo consent data: a property for the demo shop, notices, and choices for demo subjects."""

from __future__ import annotations

import datetime as dt
import random
from typing import IO

from django.utils import timezone

from audit.actors import Actor
from consent.models import ConsentProperty, ConsentRecord, Notice, Purpose
from consent.regimes import seed_regimes
from consent.services import Proof, consent_record
from profiles.models import Subject

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
        "Nous utilisons vos données pour les finalités ci-dessous. "
        "Vous pouvez modifier vos choix à tout moment.",
    ),
    "pt": (
        "Suas escolhas de privacidade",
        "Usamos seus dados para as finalidades abaixo. Você pode "
        "alterar suas escolhas a qualquer momento.",
    ),
}


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
            "allowed_origins": ["http://127.0.0.1:8000", "http://localhost:8000"],
            "default_region": "EU",
        },
    )
    prop.purposes.set(purposes)
    if created:
        stdout.write(f"  consent property 'Demo shop' (publishable key {DEMO_KEY})\n")
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
