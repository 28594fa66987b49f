"""Test data builders shared by every app's tests."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from access.models import RegionScope

_counter = itertools.count(1)


def make_staff(role: str | None = None, regions: list[str] | None = None, **extra):
    """A staff user in the role group `role`, seeing `regions` (None = all regions)."""
    user = get_user_model().objects.create_user(
        username=f"staff{next(_counter)}",
        password="correct horse battery staple",
        **{"is_staff": True, **extra},
    )
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    RegionScope.objects.create(user=user, all_regions=regions is None, regions=regions or [])
    return get_user_model().objects.get(pk=user.pk)


def signed_in(user) -> Client:
    """A browser-less client signed in as `user` (the admin's pages as they see them)."""
    client = Client()
    client.force_login(user)
    return client


def make_subject(
    region: str = "EU",
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    customer_id: str | None = None,
    events: int = 0,
    **attributes: str,
):
    """A subject created through the ingestion service, as production creates them."""
    from audit.actors import Actor
    from profiles.models import Subject
    from profiles.services import subject_upsert

    n = next(_counter)
    identifiers = [{"kind": "email", "value": email or f"person{n}@example.com"}]
    if phone:
        identifiers.append({"kind": "phone", "value": phone})
    if customer_id:
        identifiers.append({"kind": "customer_id", "value": customer_id})
    attrs = dict(attributes)
    if name:
        attrs["name"] = name
    record = {
        "region": region,
        "identifiers": identifiers,
        "attributes": attrs,
        "events": [{"name": "page_view", "payload": {"path": f"/p/{i}"}} for i in range(events)],
    }
    result = subject_upsert(record=record, actor=Actor.system("tests"))
    return Subject.objects.get(pk=result.subject_id)


def make_review_pair(
    email: str = "u",
    *,
    region: str = "EU",
    name: str = "Ana Silva",
    other_name: str = "Anna Silva",
    born: str = "1970-07-08",
    other_born: str = "1970-07-07",
):
    """Two records the match model finds probable but not certain: (the older subject, the
    pending review of the pair)."""
    from profiles.models import MatchReview

    older = make_subject(region=region, email=f"{email}1@example.com", name=name, birth_date=born)
    make_subject(
        region=region, email=f"{email}2@example.com", name=other_name, birth_date=other_born
    )
    return older, MatchReview.objects.get(status="pending", candidate=older)


def make_match_population(n: int = 40) -> None:
    """`n` distinct people with every matching attribute: data the match model can learn from."""
    for i in range(n):
        make_subject(
            email=f"pop{i}@example.com",
            first_name=["Mia", "Leo", "Zoe", "Noah", "Ivy"][i % 5],
            last_name=f"Family{i}",
            birth_date=f"19{50 + i}-0{1 + i % 9}-1{i % 9}",
            postcode=f"P{i:03d}",
        )


def make_token(scopes: list[str], regions: list[str] | None = None, role: str = "Service account"):
    """A service-account user with an API token; returns (token, raw secret)."""
    from access.services import api_token_create, sync_roles
    from audit.actors import Actor

    sync_roles()
    user = make_staff(role, regions=None, is_staff=False)
    return api_token_create(
        user=user,
        name="test token",
        scopes=scopes,
        regions=regions,
        all_regions=regions is None,
        actor=Actor.system("tests"),
    )
