"""`manage.py issue_api_token`: a service-account token from the command line."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from access.models import ApiToken
from access.services import TOKEN_SCOPES
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_the_printed_token_authenticates_with_every_scope_and_region(roles):
    out = StringIO()
    call_command("issue_api_token", "svc.ci", "--all-regions", stdout=out)
    raw = out.getvalue().strip()
    token = ApiToken.objects.get(user__username="svc.ci")
    assert sorted(token.scopes) == sorted(TOKEN_SCOPES)
    assert token.all_regions
    assert raw not in str(token.token_hash)
    assert get_user_model().objects.get(username="svc.ci").groups.get().name == "Service account"
    assert AuditEvent.objects.filter(action="access.apitoken.create").exists()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = client.get("/api/v1/access/me/").json()
    assert me["regions"] == "all"
    assert sorted(me["token_scopes"]) == sorted(TOKEN_SCOPES)


def test_a_token_needs_regions_or_all_regions(roles):
    with pytest.raises(CommandError):
        call_command("issue_api_token", "svc.ci", "--scopes", "audit:read", stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_an_unknown_region_is_refused_and_no_account_is_left_behind(roles):
    with pytest.raises(CommandError, match="unknown: XX"):
        call_command("issue_api_token", "svc.typo", "--regions", "EU,XX", stdout=StringIO())
    assert not ApiToken.objects.exists()
    assert not get_user_model().objects.filter(username="svc.typo").exists()


def test_regions_and_all_regions_together_are_refused(roles):
    with pytest.raises(CommandError, match="not both"):
        call_command(
            "issue_api_token", "svc.both", "--regions", "EU", "--all-regions", stdout=StringIO()
        )
    assert not ApiToken.objects.exists()


def test_an_empty_user_name_is_refused(roles):
    with pytest.raises(CommandError, match="user name"):
        call_command("issue_api_token", " ", "--all-regions", stdout=StringIO())
