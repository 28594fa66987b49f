"""Every role × in-scope / out-of-scope × every endpoint and admin page showing personal data."""

from pathlib import Path

import pytest
from django.test import Client

from audit.actors import Actor
from profiles.selectors import subject_profile
from tests.access.matrix import IN_REGION, MATRIX, OUT_REGION, ROLES, render
from tests.factories import make_staff, make_subject

CASES = [
    (endpoint, role, scope) for endpoint in MATRIX for role in ROLES for scope in ("in", "out")
]


@pytest.fixture
def subjects(roles):
    made = {}
    for scope, region in (("in", IN_REGION), ("out", OUT_REGION)):
        email = f"matrix-{scope}@example.com"
        subject = make_subject(region=region, email=email, name="Matrix Person", events=1)
        subject.email = email
        # One audit event per subject, so audit listings have something to show or hide.
        subject_profile(who=make_staff("DPO"), subject=subject, actor=Actor.system("tests"))
        made[scope] = subject
    return made


@pytest.mark.django_db
@pytest.mark.parametrize(("endpoint", "role", "scope"), CASES)
def test_access_matrix(endpoint, role, scope, subjects):
    observe, expected = MATRIX[endpoint]
    client = Client()
    client.force_login(make_staff(role, regions=ROLES[role]))
    outcome = observe(client, subjects[scope])
    assert outcome == expected[role][0 if scope == "in" else 1]


def test_docs_access_md_carries_the_current_matrix():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "access.md").read_text()
    assert render() in doc, (
        "run: uv run python -m tests.access.write_matrix > docs/access.md section"
    )
