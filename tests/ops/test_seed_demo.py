"""`seed_demo` builds a usable demo (staff per role, subjects, consent, a request desk) and is
idempotent: a second run adds nothing and prints the same login."""

from io import StringIO

import pytest
from django.core.management import call_command

from dsar.models import DataSubjectRequest, SystemConnector
from profiles.models import Subject


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent_and_prints_the_admin_login(regimes):
    first, second = StringIO(), StringIO()
    call_command("seed_demo", subjects=60, stdout=first)
    counts = (
        Subject.objects.count(),
        DataSubjectRequest.objects.count(),
        SystemConnector.objects.count(),
    )
    call_command("seed_demo", subjects=60, stdout=second)
    assert counts[0] >= 60
    assert counts[1] > 0
    assert counts[2] == 2
    assert counts == (
        Subject.objects.count(),
        DataSubjectRequest.objects.count(),
        SystemConnector.objects.count(),
    )
    login = [line for line in first.getvalue().splitlines() if "Login:" in line]
    assert login
    assert login[0] in second.getvalue()
    assert set(DataSubjectRequest.objects.values_list("status", flat=True)) >= {
        "awaiting_approval",
        "in_progress",
    }
