"""SSO-only domains: no password sign-in, except a break-glass superuser with TOTP, alerted."""

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditAlert, AuditEvent
from sso.models import SsoDomain
from tests.factories import make_staff

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def _login(client, user, **extra):
    return client.post(
        "/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD, **extra}
    )


def test_staff_of_an_sso_only_domain_cannot_sign_in_with_a_password(roles):
    SsoDomain.objects.create(domain="Corp.Example")
    user = make_staff("DPO", email="bob@corp.example")
    client = Client()
    response = _login(client, user)
    assert response.status_code == 200
    assert "single sign-on" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_staff_of_another_domain_still_sign_in_with_a_password(roles):
    SsoDomain.objects.create(domain="corp.example")
    user = make_staff("DPO", email="carol@elsewhere.example")
    client = Client()
    assert _login(client, user).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_break_glass_superuser_needs_totp_and_raises_an_alert_every_time(roles):
    SsoDomain.objects.create(domain="corp.example")
    root = make_staff(None, email="root@corp.example", is_superuser=True)
    device = TOTPDevice.objects.create(user=root, name="safe", confirmed=True)
    client = Client()
    assert _login(client, root).status_code == 200  # password alone: refused
    assert client.get("/admin/").status_code == 302
    assert not AuditAlert.objects.filter(kind="break_glass").exists()
    for _ in range(2):
        device.refresh_from_db()
        device.last_t = -1
        device.save()
        client = Client()
        response = _login(
            client, root, otp_device=device.persistent_id, otp_token=f"{totp(device.bin_key):06d}"
        )
        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200
    assert AuditAlert.objects.filter(kind="break_glass").count() == 2
    assert AuditEvent.objects.filter(action="sso.break_glass", object_id=str(root.pk)).count() == 2
