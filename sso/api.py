"""SCIM 2.0 (RFC 7643/7644), the subset IdPs use: Users and Groups, with the provider's own
bearer token. Deactivating a user (active=false or DELETE) ends their access at once."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from audit.actors import Actor
from sso.models import IdentityProvider, ScimGroup, SsoIdentity
from sso.services import (
    identity_groups_set,
    scim_group_create,
    scim_group_delete,
    scim_token_provider,
    scim_user_upsert,
    user_deprovision,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def _error(status: int, detail: str) -> JsonResponse:
    return JsonResponse(
        {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail},
        status=status,
        content_type="application/scim+json",
    )


def _ok(body: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, safe=False, content_type="application/scim+json")


def _user_body(identity: SsoIdentity) -> dict:
    user = identity.user
    return {
        "schemas": [USER_SCHEMA],
        "id": str(identity.pk),
        "externalId": identity.subject,
        "userName": user.username,
        "emails": [{"value": user.email, "primary": True}] if user.email else [],
        "active": user.is_active,
        "groups": [{"display": g} for g in identity.groups or []],
        "meta": {"resourceType": "User"},
    }


def _group_body(group: ScimGroup) -> dict:
    members = SsoIdentity.objects.filter(provider=group.provider).select_related("user")
    return {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.key),
        "displayName": group.display_name,
        "members": [
            {"value": str(m.pk)} for m in members if group.display_name in (m.groups or [])
        ],
        "meta": {"resourceType": "Group"},
    }


@method_decorator(csrf_exempt, name="dispatch")
class ScimView(View):
    provider: IdentityProvider

    def dispatch(self, request: HttpRequest, *args, **kwargs):
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        provider = scim_token_provider(raw.strip()) if scheme.lower() == "bearer" else None
        if provider is None:
            return _error(401, "A valid SCIM bearer token is required.")
        self.provider = provider
        self.actor = Actor.system(f"scim:{provider.slug}")
        try:
            self.body = json.loads(request.body or b"{}") if request.body else {}
        except ValueError:
            return _error(400, "The body is not JSON.")
        return super().dispatch(request, *args, **kwargs)

    def _identity(self, pk: str) -> SsoIdentity | None:
        if not str(pk).isdigit():
            return None
        return (
            SsoIdentity.objects.select_related("user", "provider")
            .filter(provider=self.provider, pk=pk)
            .first()
        )


def _email(body: dict) -> str:
    emails = body.get("emails") or []
    primary = [e for e in emails if isinstance(e, dict) and e.get("primary")] or emails
    if primary and isinstance(primary[0], dict):
        return str(primary[0].get("value", ""))
    user_name = str(body.get("userName", ""))
    return user_name if "@" in user_name else ""


class UsersView(ScimView):
    def get(self, request: HttpRequest):
        rows = SsoIdentity.objects.filter(provider=self.provider).select_related("user")
        wanted = request.GET.get("filter", "")
        if wanted.startswith("userName eq "):
            rows = rows.filter(user__username__iexact=wanted[12:].strip().strip('"'))
        resources = [_user_body(i) for i in rows.order_by("pk")]
        return _ok(
            {
                "schemas": [LIST_SCHEMA],
                "totalResults": len(resources),
                "startIndex": 1,
                "itemsPerPage": len(resources),
                "Resources": resources,
            }
        )

    def post(self, request: HttpRequest):
        external = str(self.body.get("externalId") or self.body.get("userName") or "")
        if not external:
            return _error(400, "userName is required.")
        if SsoIdentity.objects.filter(provider=self.provider, subject=external).exists():
            return _error(409, "This user exists already.")
        scim_user_upsert(
            provider=self.provider,
            external_id=external,
            email=_email(self.body),
            groups=[],
            active=bool(self.body.get("active", True)),
            actor=self.actor,
        )
        identity = SsoIdentity.objects.get(provider=self.provider, subject=external)
        return _ok(_user_body(identity), status=201)


class UserView(ScimView):
    def get(self, request: HttpRequest, pk: str):
        identity = self._identity(pk)
        return _ok(_user_body(identity)) if identity else _error(404, "No such user.")

    def put(self, request: HttpRequest, pk: str):
        identity = self._identity(pk)
        if identity is None:
            return _error(404, "No such user.")
        scim_user_upsert(
            provider=self.provider,
            external_id=identity.subject,
            email=_email(self.body) or identity.user.email,
            groups=identity.groups,
            active=bool(self.body.get("active", True)),
            actor=self.actor,
        )
        return self.get(request, pk)

    def patch(self, request: HttpRequest, pk: str):
        identity = self._identity(pk)
        if identity is None:
            return _error(404, "No such user.")
        active = identity.user.is_active
        for op in self.body.get("Operations", []):
            value = op.get("value")
            path = str(op.get("path", "")).lower()
            if path == "active":
                active = _truthy(value)
            elif isinstance(value, dict) and "active" in value:
                active = _truthy(value["active"])
        scim_user_upsert(
            provider=self.provider,
            external_id=identity.subject,
            email=identity.user.email,
            groups=identity.groups,
            active=active,
            actor=self.actor,
        )
        return self.get(request, pk)

    def delete(self, request: HttpRequest, pk: str):
        identity = self._identity(pk)
        if identity is None:
            return _error(404, "No such user.")
        user_deprovision(user=identity.user, provider=self.provider, actor=self.actor)
        return HttpResponse(status=204)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class GroupsView(ScimView):
    def get(self, request: HttpRequest):
        groups = [_group_body(g) for g in ScimGroup.objects.filter(provider=self.provider)]
        return _ok(
            {
                "schemas": [LIST_SCHEMA],
                "totalResults": len(groups),
                "startIndex": 1,
                "itemsPerPage": len(groups),
                "Resources": groups,
            }
        )

    def post(self, request: HttpRequest):
        name = str(self.body.get("displayName", "")).strip()
        if not name:
            return _error(400, "displayName is required.")
        group = scim_group_create(provider=self.provider, name=name, actor=self.actor)
        self._members(group, [m.get("value") for m in self.body.get("members") or []], "add")
        return _ok(_group_body(group), status=201)

    def _members(self, group: ScimGroup, ids: list, op: str) -> None:
        for pk in ids:
            identity = self._identity(str(pk))
            if identity is None:
                continue
            groups = set(identity.groups or [])
            groups = groups | {group.display_name} if op == "add" else groups - {group.display_name}
            identity_groups_set(identity=identity, groups=groups, actor=self.actor)


class GroupView(GroupsView):
    def _group(self, pk: str) -> ScimGroup | None:
        return ScimGroup.objects.filter(provider=self.provider, key=pk).first()

    def get(self, request: HttpRequest, pk: str):  # type: ignore[override]
        group = self._group(pk)
        return _ok(_group_body(group)) if group else _error(404, "No such group.")

    def patch(self, request: HttpRequest, pk: str):
        group = self._group(pk)
        if group is None:
            return _error(404, "No such group.")
        for op in self.body.get("Operations", []):
            kind = str(op.get("op", "")).lower()
            path = str(op.get("path", ""))
            values = op.get("value") or []
            if kind == "remove" and path.startswith("members[value eq "):
                values = [{"value": path.split('"')[1]}]
            if kind in ("add", "remove") and isinstance(values, list):
                self._members(group, [v.get("value") for v in values if isinstance(v, dict)], kind)
        return self.get(request, pk)

    def delete(self, request: HttpRequest, pk: str):
        group = self._group(pk)
        if group is None:
            return _error(404, "No such group.")
        members = _group_body(group)["members"]
        self._members(group, [m["value"] for m in members], "remove")
        scim_group_delete(group=group, actor=self.actor)
        return HttpResponse(status=204)
