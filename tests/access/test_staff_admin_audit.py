"""Who may do what, and where, must be provable: every change to a staff account in the admin
(created, its roles, its region scope, its password, deleted) is appended to the audit chain
with the names of what changed, never the values."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from access.models import RegionScope
from access.roles import DPO
from audit.models import AuditEvent
from audit.verify import verify_chain
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

PASSWORD = "a long and unguessable pass phrase"


def _no_scope_rows(total: int = 0) -> dict[str, str]:
    """The management form of the user page's region-scope inline."""
    return {
        "region_scope-TOTAL_FORMS": str(total),
        "region_scope-INITIAL_FORMS": "0",
        "region_scope-MIN_NUM_FORMS": "0",
        "region_scope-MAX_NUM_FORMS": "1",
    }


def _events(user) -> list[tuple[str, list[str]]]:
    rows = AuditEvent.objects.filter(object_type="auth.user", object_id=str(user.pk))
    return [(e.action, list(e.fields)) for e in rows.order_by("sequence")]


def test_giving_a_staff_account_a_role_and_regions_is_audited(roles):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    admin = Client()
    admin.force_login(root)
    response = admin.post(
        "/admin/auth/user/add/",
        {
            "username": "nina",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "usable_password": "true",
            **_no_scope_rows(),
        },
    )
    assert response.status_code == 302, (
        response.context["adminform"].form.errors,
        [f.errors for f in response.context["inline_admin_formsets"][0].formset.forms],
        response.context["inline_admin_formsets"][0].formset.non_form_errors(),
    )
    nina = get_user_model().objects.get(username="nina")
    assert _events(nina)[0][0] == "access.staff.create"

    dpo = Group.objects.get(name=DPO)
    page = {
        "username": "nina",
        "is_active": "on",
        "is_staff": "on",
        "groups": [dpo.pk],
        "date_joined_0": "2026-11-29",
        "date_joined_1": "10:00:00",
        **_no_scope_rows(total=1),
        "region_scope-0-regions": '["EU"]',
        "region_scope-0-user": str(nina.pk),
    }
    response = admin.post(f"/admin/auth/user/{nina.pk}/change/", page)
    assert response.status_code == 302, response.content[:3000]
    assert RegionScope.objects.get(user=nina).regions == ["EU"]
    action, fields = _events(nina)[-1]
    assert action == "access.staff.update"
    assert any("Groups" in f for f in fields)
    assert any(f.startswith("region scope") for f in fields)
    event = AuditEvent.objects.filter(action="access.staff.update").last()
    assert "EU" not in str(event.fields)
    assert event.actor_id == str(root.pk)

    admin.post(f"/admin/auth/user/{nina.pk}/delete/", {"post": "yes"})
    assert not get_user_model().objects.filter(pk=nina.pk).exists()
    assert _events(nina)[-1][0] == "access.staff.delete"
    assert verify_chain().ok


def test_a_password_set_by_an_administrator_is_audited(roles):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x" * 20)
    agent = make_staff(DPO)
    admin = Client()
    admin.force_login(root)
    response = admin.post(
        f"/admin/auth/user/{agent.pk}/password/",
        {"password1": PASSWORD, "password2": PASSWORD, "set_usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert _events(agent)[-1] == ("access.staff.update", ["password"])
