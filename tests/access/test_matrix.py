"""Every role × in-scope / out-of-scope × every endpoint and admin page showing personal data."""

from pathlib import Path

import pytest
from django.test import Client

from audit.actors import Actor
from consent.models import Purpose
from consent.services import consent_record
from dsar.services import request_create
from profiles.selectors import subject_profile
from tests.access.matrix import IN_REGION, MATRIX, OUT_REGION, ROLES, render
from tests.factories import make_staff, make_subject

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


def test_docs_access_md_carries_the_current_matrix():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "access.md").read_text()
    assert render() in doc, (
        "run: uv run python -m tests.access.write_matrix > docs/access.md section"
    )
