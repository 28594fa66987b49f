"""API tokens: hashed at rest, shown once, scoped, region-limited, revocable."""

import pytest
from django.utils import timezone

from access.models import ApiToken
from access.services import api_token_revoke
from audit.actors import Actor
from tests.factories import make_staff, make_subject, make_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("scope", "method", "path", "body"),
    [
        ("consent:read", "get", "/api/v1/profiles/subjects/", None),
        (
            "profiles:read",
            "post",
            "/api/v1/profiles/subjects/upsert/",
            {"region": "EU", "identifiers": [{"kind": "email", "value": "t@example.com"}]},
        ),
        ("profiles:write", "get", "/api/v1/audit/events/", None),
        (
            "audit:read",
            "post",
            "/api/v1/profiles/subjects/search/",
            {"kind": "email", "value": "t@example.com"},
        ),
    ],
)
def test_a_token_with_scope_x_is_refused_where_scope_y_is_needed(api, scope, method, path, body):
    _, raw = make_token([scope])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = (
        getattr(api, method)(path, body, format="json") if body else getattr(api, method)(path)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_the_token_secret_is_not_stored_only_its_hash(roles):
    token, raw = make_token(["profiles:read"])
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert raw not in str(stored)
    assert token.token_prefix in raw


def test_a_region_limited_token_gets_404_outside_its_regions(api):
    eu, ca = make_subject(region="EU"), make_subject(region="US-CA")
    _, raw = make_token(["profiles:read"], regions=["EU"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(f"/api/v1/profiles/subjects/{eu.pk}/").status_code == 200
    outside = api.get(f"/api/v1/profiles/subjects/{ca.pk}/")
    assert outside.status_code == 404
    assert outside.json()["error"]["code"] == "not_found"


def test_revoked_expired_and_malformed_tokens_are_401(api):
    token, raw = make_token(["profiles:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/profiles/subjects/").status_code == 200
    api_token_revoke(token=token, actor=Actor.system("tests"))
    assert api.get("/api/v1/profiles/subjects/").status_code == 401
    expired, raw2 = make_token(["profiles:read"])
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw2}")
    assert api.get("/api/v1/profiles/subjects/").json()["error"]["code"] == "authentication_failed"
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api.get("/api/v1/profiles/subjects/").status_code == 401


def test_dpo_creates_a_token_shown_once_and_it_works(api, roles):
    api.force_authenticate(make_staff("DPO"))
    service = make_staff("Service account", is_staff=False)
    created = api.post(
        "/api/v1/access/tokens/",
        {"user": service.pk, "name": "crm sync", "scopes": ["profiles:read"], "all_regions": True},
        format="json",
    )
    assert created.status_code == 201
    raw = created.json()["token"]
    listed = api.get("/api/v1/access/tokens/").json()
    assert raw not in str(listed)
    api.force_authenticate(None)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = api.get("/api/v1/access/me/").json()
    assert me["token_scopes"] == ["profiles:read"]
    assert ApiToken.objects.get(pk=created.json()["id"]).last_used_at is not None


def test_support_agent_cannot_create_tokens(api, roles):
    api.force_authenticate(make_staff("Support agent", regions=["EU"]))
    response = api.post(
        "/api/v1/access/tokens/",
        {"user": 1, "name": "x", "scopes": ["profiles:read"]},
        format="json",
    )
    assert response.status_code == 403
