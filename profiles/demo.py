"""Demo profiles: deterministic, idempotent, across EU, GB, US-CA, US-VA, US-CO, BR and CA."""

from __future__ import annotations

import random
from typing import IO

from django.utils import timezone

from audit.actors import Actor
from profiles.models import Subject, System
from profiles.services import subject_upsert

SYSTEMS = [
    ("CRM", System.Kind.BOTH, ["identity", "contact", "descriptive"], "DE", False),
    ("Web shop", System.Kind.SOURCE, ["identity", "contact", "behavioral"], "IE", False),
    ("Point of sale", System.Kind.SOURCE, ["identity", "behavioral"], "FR", False),
    ("E-mail platform", System.Kind.DESTINATION, ["contact", "behavioral"], "US", True),
    ("Ad platform", System.Kind.DESTINATION, ["behavioral"], "US", True),
]
# Region, phone prefix (mobile ranges), digits after it, weight.
REGIONS = [
    ("EU", "+336", 8, 40),
    ("GB", "+447", 9, 10),
    ("US-CA", "+1415", 7, 20),
    ("US-VA", "+1703", 7, 5),
    ("US-CO", "+1303", 7, 5),
    ("BR", "+55119", 8, 10),
    ("CA", "+1416", 7, 10),
]
FIRST = [
    "Amelie",
    "Lucas",
    "Sofia",
    "Mateo",
    "Hannah",
    "Noah",
    "Ines",
    "Liam",
    "Chloe",
    "Ethan",
    "Beatriz",
    "Joao",
    "Olivia",
    "Arjun",
    "Mia",
    "Louis",
    "Ana",
    "Tomas",
    "Emma",
    "Yuki",
]
LAST = [
    "Martin",
    "Silva",
    "Muller",
    "Garcia",
    "Smith",
    "Tremblay",
    "Rossi",
    "Costa",
    "Dubois",
    "Nguyen",
    "Kowalski",
    "Brown",
    "Santos",
    "Fischer",
    "Roy",
    "Lopez",
    "Moreau",
    "Wilson",
]
DOMAINS = ["example.com", "example.org", "example.net"]


def seed(*, subjects: int, stdout: IO[str]) -> None:
    systems = {}
    for name, kind, categories, country, processor in SYSTEMS:
        systems[name], _ = System.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "data_categories": categories,
                "country": country,
                "is_processor": processor,
                "owner_contact": "privacy team",
            },
        )
    existing = Subject.objects.count()
    if existing >= subjects:
        return
    rng = random.Random(20261125)  # deterministic demo data
    actor = Actor.system("seed_demo")
    weights = [w for *_, w in REGIONS]
    sources = [systems["CRM"], systems["Web shop"], systems["Point of sale"]]
    for n in range(subjects):
        region, prefix, digits, _ = rng.choices(REGIONS, weights=weights)[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        number = str(rng.randint(2, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))
        record = {
            "region": region,
            "identifiers": [
                {
                    "kind": "email",
                    "value": f"{first}.{last}.{n}@{rng.choice(DOMAINS)}".lower(),
                    "verified": rng.random() < 0.7,
                },
                {"kind": "phone", "value": f"{prefix}{number}"},
                {"kind": "customer_id", "value": f"C{100000 + n}"},
            ],
            "attributes": [
                {"key": "name", "value": f"{first} {last}"},
                {"key": "postcode", "value": f"{rng.randint(10000, 99999)}"},
                {
                    "key": "birth_date",
                    "value": f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                },
                {"key": "loyalty_tier", "value": rng.choice(["bronze", "silver", "gold"])},
                {
                    "key": "newsletter_topics",
                    "value": rng.choice(["shoes", "outdoor", "kids"]),
                    "category": "attitudinal",
                },
            ],
            "events": [
                {
                    "name": rng.choice(["page_view", "purchase", "cart_add", "store_visit"]),
                    "payload": {
                        "sku": f"SKU-{rng.randint(100, 999)}",
                        "amount": rng.randint(5, 300),
                    },
                    "occurred_at": (
                        timezone.now() - timezone.timedelta(days=rng.randint(0, 900))
                    ).isoformat(),
                }
                for _ in range(rng.randint(1, 6))
            ],
        }
        subject_upsert(record=record, actor=actor, source=rng.choice(sources))
    stdout.write(f"  {Subject.objects.count()} demo subjects\n")
