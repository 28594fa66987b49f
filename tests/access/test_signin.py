"""Staff sign-in: TOTP second factor when required, lockout after repeated failures."""

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import make_staff

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def _login(client: Client, username: str, password: str, **extra: str):
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password, **extra}
    )


def test_with_mfa_required_a_password_alone_does_not_open_the_admin(settings, roles):
    settings.CUSTODIA_REQUIRE_MFA = True
    user = make_staff("DPO")
    client = Client()
    _login(client, user.username, PASSWORD)
    assert client.get("/admin/").status_code == 302  # back to the login page


def test_with_mfa_required_password_and_totp_code_open_the_admin(settings, roles):
    settings.CUSTODIA_REQUIRE_MFA = True
    user = make_staff("DPO")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    response = _login(
        client,
        user.username,
        PASSWORD,
        otp_device=device.persistent_id,
        otp_token=f"{totp(device.bin_key):06d}",
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_with_mfa_required_a_wrong_code_is_refused(settings, roles):
    settings.CUSTODIA_REQUIRE_MFA = True
    user = make_staff("DPO")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    wrong = (totp(device.bin_key) + 1) % 1_000_000
    _login(
        client, user.username, PASSWORD, otp_device=device.persistent_id, otp_token=f"{wrong:06d}"
    )
    assert client.get("/admin/").status_code == 302


def test_repeated_failures_lock_the_account_out_even_with_the_right_password(settings, roles):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_staff("DPO")
    client = Client()
    for _ in range(3):
        _login(client, user.username, "wrong password")
    locked = _login(client, user.username, PASSWORD)
    assert locked.status_code == 429
    assert client.get("/admin/").status_code == 302
