"""Test data builders shared by every app's tests."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from access.models import RegionScope

_counter = itertools.count(1)


def make_staff(role: str | None = None, regions: list[str] | None = None, **extra):
    """A staff user in the role group `role`, seeing `regions` (None = all regions)."""
    user = get_user_model().objects.create_user(
        username=f"staff{next(_counter)}",
        password="correct horse battery staple",
        is_staff=True,
        **extra,
    )
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    RegionScope.objects.create(user=user, all_regions=regions is None, regions=regions or [])
    return get_user_model().objects.get(pk=user.pk)
