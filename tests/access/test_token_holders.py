"""API tokens are issued to service accounts only, never to superusers or staff, and never
with an expiry that has already passed: in the service, the API and the admin."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from access.models import ApiToken
from access.services import api_token_create
from audit.actors import Actor
from core.errors import DomainError
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def _create(user, **extra):
    return api_token_create(
        user=user,
        name="sync",
        scopes=["profiles:read"],
        all_regions=True,
        actor=Actor.system("tests"),
        **extra,
    )


def _superuser():
    return get_user_model().objects.create_superuser("root", "root@example.com", "x" * 16)


def test_a_service_account_gets_a_token(roles):
    token, raw = _create(make_staff("Service account", is_staff=False))
    assert raw.startswith("cst_")
    assert token.pk


@pytest.mark.parametrize(
    "holder",
    [
        "superuser",
        "dpo",
        "officer",
        "service_account_with_staff_flag",
        "service_account_with_a_second_role",
        "account_without_role",
        "inactive_service_account",
    ],
)
def test_no_token_for_anyone_but_a_service_account(roles, holder):
    users = {
        "superuser": _superuser,
        "dpo": lambda: make_staff("DPO"),
        "officer": lambda: make_staff("Privacy officer", regions=["EU"]),
        "service_account_with_staff_flag": lambda: make_staff("Service account"),
        "account_without_role": lambda: make_staff(None, is_staff=False),
        "inactive_service_account": lambda: make_staff(
            "Service account", is_staff=False, is_active=False
        ),
    }
    if holder == "service_account_with_a_second_role":
        user = make_staff("Service account", is_staff=False)
        user.groups.add(*make_staff("Auditor").groups.all())
    else:
        user = users[holder]()
    with pytest.raises(DomainError) as refused:
        _create(user)
    assert "user" in refused.value.fields
    assert not ApiToken.objects.exists()


def test_an_expiry_in_the_past_is_refused_at_creation(roles):
    service = make_staff("Service account", is_staff=False)
    with pytest.raises(DomainError) as refused:
        _create(service, expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert "expires_at" in refused.value.fields
    assert not ApiToken.objects.exists()
    token, _ = _create(service, expires_at=timezone.now() + dt.timedelta(days=30))
    assert token.expires_at > timezone.now()


def test_the_api_refuses_a_token_for_a_superuser_with_a_clear_400(api, roles):
    api.force_authenticate(make_staff("DPO"))
    response = api.post(
        "/api/v1/access/tokens/",
        {"user": _superuser().pk, "name": "x", "scopes": ["profiles:read"], "all_regions": True},
        format="json",
    )
    assert response.status_code == 400
    assert "user" in response.json()["error"]["fields"]
    assert not ApiToken.objects.exists()


def test_the_api_refuses_an_expiry_in_the_past(api, roles):
    api.force_authenticate(make_staff("DPO"))
    service = make_staff("Service account", is_staff=False)
    response = api.post(
        "/api/v1/access/tokens/",
        {
            "user": service.pk,
            "name": "x",
            "scopes": ["profiles:read"],
            "all_regions": True,
            "expires_at": "2020-01-01T00:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()["error"]["fields"]


def _admin_add(client, user, expires_at=""):
    client.force_login(make_staff("DPO"))
    return client.post(
        "/admin/access/apitoken/add/",
        {
            "user": user.pk,
            "name": "crm sync",
            "scopes": ["profiles:read"],
            "all_regions": "on",
            "regions": "",
            "expires_at_0": expires_at[:10],
            "expires_at_1": expires_at[11:],
        },
    )


def test_the_admin_offers_and_accepts_only_service_accounts(client, roles):
    service = make_staff("Service account", is_staff=False)
    officer = make_staff("Privacy officer")
    client.force_login(make_staff("DPO"))
    form = client.get("/admin/access/apitoken/add/").content.decode()
    assert f'value="{service.pk}"' in form
    assert f'value="{officer.pk}"' not in form
    refused = _admin_add(client, officer)
    assert refused.status_code == 200  # the form again, with the error
    assert not ApiToken.objects.exists()
    created = _admin_add(client, service)
    assert created.status_code == 302
    assert ApiToken.objects.get().user == service


def test_the_admin_refuses_an_expiry_in_the_past(client, roles):
    service = make_staff("Service account", is_staff=False)
    response = _admin_add(client, service, expires_at="2020-01-01 00:00:00")
    assert response.status_code == 200
    assert "the expiry must be in the future" in response.content.decode()
    assert not ApiToken.objects.exists()
