"""The sign-in attempts screen (django-axes) in the admin: its cleanup action works."""

from __future__ import annotations

import datetime as dt

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from audit.models import AuditEvent
from tests.factories import make_staff


def _attempt(username: str, *, hours_ago: float) -> AccessAttempt:
    attempt = AccessAttempt.objects.create(
        username=username,
        ip_address="192.0.2.1",
        user_agent="test",
        http_accept="*/*",
        path_info="/admin/login/",
        failures_since_start=3,
    )
    then = timezone.now() - dt.timedelta(hours=hours_ago)
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=then)
    return attempt


def test_cleanup_of_expired_sign_in_attempts_deletes_the_expired_ones_only(client, db):
    """The action answered 500: axes reads the attempt time it stamps on sign-in requests
    only. (Attempts made after signing in: signing in cleans expired ones itself.)"""
    admin_user = get_user_model().objects.create_superuser("root", password="x" * 20)
    client.force_login(admin_user)
    expired = _attempt("old-typo", hours_ago=5)
    recent = _attempt("recent-typo", hours_ago=0.1)
    response = client.post(
        "/admin/axes/accessattempt/",
        {"action": "cleanup_expired_attempts", "_selected_action": [str(recent.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Cleaned up 1 expired sign-in attempts." in response.content.decode()
    assert not AccessAttempt.objects.filter(pk=expired.pk).exists()
    assert AccessAttempt.objects.filter(pk=recent.pk).exists()
    audited = AuditEvent.objects.get(action="access.signin_attempts.cleanup")
    assert (audited.actor_label, audited.object_id) == ("root", "count:1")


def test_staff_who_may_not_delete_attempts_cannot_run_the_cleanup(client, db):
    """It lifts lockouts: viewing the attempts is not enough."""
    viewer = make_staff()
    viewer.user_permissions.add(Permission.objects.get(codename="view_accessattempt"))
    client.force_login(viewer)
    expired = _attempt("old-typo", hours_ago=5)
    response = client.post(
        "/admin/axes/accessattempt/",
        {"action": "cleanup_expired_attempts", "_selected_action": [str(expired.pk)]},
    )
    assert response.status_code == 200  # the changelist again: no such action for them
    assert AccessAttempt.objects.filter(pk=expired.pk).exists()
