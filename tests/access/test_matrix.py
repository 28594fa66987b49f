"""Every role × in-scope / out-of-scope × every endpoint and admin page showing personal data."""

from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client

from audit.actors import Actor
from consent.models import Purpose
from consent.services import consent_record
from dsar.services import request_create
from profiles.selectors import subject_profile
from tests.access.matrix import (
    IN_REGION,
    MATRIX,
    OUT_REGION,
    ROLES,
    SERVICE_ACCOUNT,
    WRITE_MATRIX,
    WRITE_ROLES,
    render,
    render_writes,
)
from tests.factories import make_staff, make_subject, make_token

CASES = [(role, scope) for role in ROLES for scope in ("in", "out")]


@pytest.fixture
def subjects(roles, regimes):
    made = {}
    for scope, region in (("in", IN_REGION), ("out", OUT_REGION)):
        email = f"matrix-{scope}@example.com"
        subject = make_subject(region=region, email=email, name="Matrix Person", events=1)
        subject.email = email
        # One audit event per subject, so audit listings have something to show or hide.
        subject_profile(who=make_staff("DPO"), subject=subject, actor=Actor.system("tests"))
        consent_record(
            purpose=Purpose.objects.get(slug="analytics"),
            state="granted",
            channel="api",
            actor=Actor.system("tests"),
            subject=subject,
        )
        subject.request, _ = request_create(
            kind="erasure",
            channel="api",
            actor=Actor.system("tests"),
            subject=subject,
            verification="service",
        )
        made[scope] = subject
    return made


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "scope"), CASES)
def test_access_matrix(role, scope, subjects):
    """One role, one subject (in or out of the role's regions), every endpoint and admin page."""
    client = Client()
    client.force_login(make_staff(role, regions=ROLES[role]))
    column = 0 if scope == "in" else 1
    observed = {
        endpoint: observe(client, subjects[scope]) for endpoint, (observe, _) in MATRIX.items()
    }
    expected = {endpoint: table[role][column] for endpoint, (_, table) in MATRIX.items()}
    assert observed == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "scope"), [(r, s) for r in WRITE_ROLES for s in ("in", "out")])
def test_write_matrix(role, scope, subjects):
    """One role, one subject (in or out of the role's regions), every write endpoint and admin
    action, including the cross-region cases (an EU record or request with the subject's
    e-mail), each cell rolled back before the next."""
    column = 0 if scope == "in" else 1
    observed = observe_writes(write_client(role), subjects[scope])
    expected = {endpoint: table[role][column] for endpoint, (_, table) in WRITE_MATRIX.items()}
    assert observed == expected


def test_docs_access_md_carries_the_current_matrix():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "access.md").read_text()
    hint = "run: uv run python -m tests.access.write_matrix > docs/access.md section"
    assert render() in doc, hint
    assert render_writes() in doc, hint


def write_client(role: str) -> Client:
    """A signed-in staff member of `role`, or a service account's EU token."""
    if role == SERVICE_ACCOUNT:
        scopes = ["profiles:write", "profiles:read", "consent:write", "dsar:manage", "dsar:read"]
        _, raw = make_token(scopes, regions=WRITE_ROLES[role])
        return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client = Client()
    client.force_login(make_staff(role, regions=WRITE_ROLES[role]))
    return client


def observe_writes(client: Client, subject) -> dict[str, str]:
    """Every write cell for one subject, each in a savepoint rolled back afterwards."""
    observed = {}
    for endpoint, (observe, _) in WRITE_MATRIX.items():
        with transaction.atomic():
            observed[endpoint] = observe(client, subject)
            transaction.set_rollback(True)
    return observed
