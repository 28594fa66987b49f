"""Demo staff: one user per role, with region scopes."""

from __future__ import annotations

from typing import IO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from access import roles
from access.models import RegionScope
from access.services import sync_roles

DEMO_STAFF = [
    ("dpo", roles.DPO, None),
    ("officer.eu", roles.PRIVACY_OFFICER, ["EU", "GB"]),
    ("officer.americas", roles.PRIVACY_OFFICER, ["US-CA", "US-VA", "US-CO", "US-CT", "CA", "BR"]),
    ("agent.eu", roles.SUPPORT_AGENT, ["EU"]),
    ("marketing", roles.MARKETING_ANALYST, None),
    ("auditor", roles.AUDITOR, None),
    ("service.crm", roles.SERVICE_ACCOUNT, None),
]


def seed(*, password: str, stdout: IO[str]) -> None:
    sync_roles()
    user_model = get_user_model()
    for username, role, regions in DEMO_STAFF:
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": role != roles.SERVICE_ACCOUNT}
        )
        user.set_password(password)
        user.save()
        user.groups.set([Group.objects.get(name=role)])
        RegionScope.objects.update_or_create(
            user=user, defaults={"all_regions": regions is None, "regions": regions or []}
        )
        if created:
            scope = "all regions" if regions is None else ", ".join(regions)
            stdout.write(f"  staff {username:18} {role} ({scope})\n")
