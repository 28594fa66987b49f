"""Demo request desk (idempotent): connected systems, a retention exception, a legal hold and
a queue of requests in every state, some overdue or due soon. Requests that start are really
run by the worker once `make run` has started it."""

from __future__ import annotations

import datetime as dt
from typing import IO

from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from dsar import services
from dsar.models import DataSubjectRequest, LegalHold, RetentionException, SystemConnector
from profiles.models import Subject, System

CONNECTORS = [
    (
        "CRM",
        "Open the CRM, Contacts, and search for the requester's e-mail address or customer id "
        "(shown under 'The request'). Access: export the contact record and attach it to a "
        "CRM ticket. Erasure: delete the contact and its activity history. Then paste the CRM "
        "ticket number as evidence and click 'Mark CRM done'.",
    ),
    (
        "E-mail platform",
        "In the e-mail platform, Audience, search for the requester's e-mail address. Access: "
        "export the subscriber's profile and send history. Erasure: add the address to the "
        "suppression list, then delete the subscriber. Paste the export or suppression job id "
        "as evidence and click 'Mark E-mail platform done'.",
    ),
]
# kind, region, days since the request was received
QUEUE = [
    ("access", "EU", 33),
    ("erasure", "EU", 25),
    ("access", "US-CA", 40),
    ("opt_out", "US-CA", 2),
    ("portability", "EU", 3),
    ("erasure", "US-CA", 10),
    ("access", "BR", 12),
    ("rectification", "CA", 5),
    ("objection", "EU", 1),
    ("erasure", "BR", 1),
]


def seed(*, subjects: int, stdout: IO[str]) -> None:
    actor = Actor.system("seed_demo")
    for name, instructions in CONNECTORS:
        system = System.objects.filter(name=name).first()
        if system:
            connector, _ = SystemConnector.objects.get_or_create(
                system=system,
                defaults={"mode": SystemConnector.Mode.MANUAL, "instructions": instructions},
            )
            if connector.mode == SystemConnector.Mode.MANUAL and not connector.instructions:
                connector.instructions = instructions  # seeded by an older version without
                connector.save(update_fields=["instructions"])
    RetentionException.objects.get_or_create(
        event_prefix="order.",
        defaults={"reason": "Tax law: invoices and orders kept 10 years", "keep_days": 3650},
    )
    if DataSubjectRequest.objects.exists():
        return
    held = Subject.objects.filter(region="EU", status="active").order_by("created_at").first()
    if held and not LegalHold.objects.exists():
        services.legal_hold_place(subject=held, reason="Chargeback dispute 2026-118", actor=actor)
    now = timezone.now()
    for n, (kind, region, age) in enumerate(QUEUE):
        subject = (
            Subject.objects.filter(region=region, status="active").order_by("created_at")[n + 1 :]
        ).first()
        if subject is None:
            continue
        details = {"corrections": {"loyalty_tier": "gold"}} if kind == "rectification" else {}
        with transaction.atomic():
            services.request_create(
                kind=kind,
                channel="admin" if n % 2 else "api",
                actor=actor,
                subject=subject,
                details=details,
                verification="officer" if n % 2 else "service",
                received_at=now - dt.timedelta(days=age),
            )
    stdout.write(f"  demo request desk: {DataSubjectRequest.objects.count()} requests\n")
