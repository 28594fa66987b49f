"""SCIM 2.0 (RFC 7643/7644), the subset IdPs use: Users and Groups, with the provider's own
bearer token. Deactivating a user (active=false or DELETE) ends their access at once."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import ParseError

from audit.actors import Actor
from core.errors import DomainError
from core.parsers import json_loads_checked
from sso.models import IdentityProvider, ScimGroup, SsoIdentity
from sso.services import (
    SignInRefused,
    identity_groups_set,
    scim_group_create,
    scim_group_delete,
    scim_group_rename,
    scim_token_provider,
    scim_user_upsert,
    user_deprovision,
)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


MEMBER_FILTER = re.compile(r'members\[value eq "([^"]{1,64})"\]', re.IGNORECASE)


class ScimError(Exception):
    """A request the server cannot apply: answered as a SCIM error (RFC 7644 3.12) with its
    scimType, never a 500."""

    def __init__(self, status: int, detail: str, scim_type: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _error(status: int, detail: str, scim_type: str = "") -> JsonResponse:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return JsonResponse(body, status=status, content_type="application/scim+json")


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
        try:  # the API's rules: deep nesting, NUL, lone surrogates are refused, not a 500
            self.body = json_loads_checked(request.body) if request.body else {}
        except ParseError:
            return _error(400, "The body is not JSON.", "invalidSyntax")
        except DomainError as exc:
            return _error(400, exc.message, "invalidSyntax")
        if not isinstance(self.body, dict):
            return _error(400, "The body must be a JSON object.", "invalidSyntax")
        try:
            with transaction.atomic():  # a request applies whole or not at all
                return super().dispatch(request, *args, **kwargs)
        except ScimError as error:
            return _error(error.status, error.detail, error.scim_type)
        except SignInRefused as refused:  # an address this provider may not take (409)
            return _error(409, refused.message, "uniqueness")

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs):
        return _error(405, f"{request.method} is not supported here.")

    def _identity(self, pk: str) -> SsoIdentity | None:
        if not str(pk).isdigit():
            return None
        return (
            SsoIdentity.objects.select_related("user", "provider")
            .filter(provider=self.provider, pk=pk)
            .first()
        )


def _checked_email(value: Any) -> str:
    text = str(value).strip() if isinstance(value, str | int) else ""
    try:
        validate_email(text)
    except ValidationError:
        raise ScimError(400, "Not an e-mail address.", "invalidValue") from None
    return text


def _email_of(emails: Any) -> str:
    """The primary (else the first) address of a SCIM emails list."""
    if not isinstance(emails, list) or not all(isinstance(e, dict) for e in emails):
        raise ScimError(400, "emails must be a list of objects.", "invalidValue")
    primary = [e for e in emails if e.get("primary") is True] or emails
    return _checked_email(primary[0].get("value")) if primary else ""


def _email(body: dict) -> str:
    if body.get("emails"):
        return _email_of(body["emails"])
    user_name = body.get("userName")
    return _checked_email(user_name) if isinstance(user_name, str) and "@" in user_name else ""


def _email_change(attr: str, given: Any) -> str:
    """The new address an operation on `attr` gives, or '' when it gives none."""
    if attr == "emails":
        return _email_of(given)
    if attr in ('emails[type eq "work"].value', "emails.value"):
        return _checked_email(given)
    if attr == "username" and isinstance(given, str) and "@" in given:
        return _checked_email(given)
    return ""


def _bool(value: Any, name: str) -> bool:
    """SCIM booleans; some IdPs send them as the strings "True" / "False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ScimError(400, f"{name} must be true or false.", "invalidValue")


def _operations(body: dict) -> list[tuple[str, str, Any]]:
    """A PatchOp's operations as (op, path, value), checked (RFC 7644 3.5.2)."""
    ops = body.get("Operations")
    if not isinstance(ops, list) or not ops:
        raise ScimError(400, "Operations must be a non-empty list.", "invalidSyntax")
    out = []
    for op in ops:
        if not isinstance(op, dict):
            raise ScimError(400, "Each operation must be an object.", "invalidSyntax")
        kind = str(op.get("op", "")).lower()
        if kind not in ("add", "remove", "replace"):
            raise ScimError(400, "op must be add, remove or replace.", "invalidSyntax")
        path = op.get("path", "")
        if not isinstance(path, str) or len(path) > 200:
            raise ScimError(400, "path must be a short string.", "invalidPath")
        out.append((kind, path.strip(), op.get("value")))
    return out


def _targets(path: str, value: Any) -> dict[str, Any]:
    """What one operation sets, by lower-cased attribute: its path, or the keys of its value
    when it has no path."""
    if path:
        return {path.lower(): value}
    if not isinstance(value, dict):
        raise ScimError(400, "Without a path, the value must be an object.", "invalidValue")
    return {str(k).lower(): v for k, v in value.items()}


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
        external = self.body.get("externalId") or self.body.get("userName") or ""
        if not isinstance(external, str) or not external.strip() or len(external) > 255:
            return _error(400, "userName is required (a string).", "invalidValue")
        if SsoIdentity.objects.filter(provider=self.provider, subject=external).exists():
            return _error(409, "This user exists already.", "uniqueness")
        scim_user_upsert(
            provider=self.provider,
            external_id=external,
            email=_email(self.body),
            groups=[],
            active=_bool(self.body.get("active", True), "active"),
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
            active=_bool(self.body.get("active", True), "active"),
            actor=self.actor,
        )
        return self.get(request, pk)

    def patch(self, request: HttpRequest, pk: str):
        """active, the e-mail (emails, emails[type eq "work"].value, userName) and externalId
        (which cannot change); attributes the hub does not keep (name, title, ...) are
        accepted and ignored, as IdPs send them with every update."""
        identity = self._identity(pk)
        if identity is None:
            return _error(404, "No such user.")
        active, email = identity.user.is_active, identity.user.email
        for kind, path, value in _operations(self.body):
            for attr, given in _targets(path, value).items():
                if kind == "remove" and attr in ("active", "externalid"):
                    raise ScimError(400, f"{attr} cannot be removed.", "mutability")
                if attr == "active":
                    active = _bool(given, "active")
                elif attr == "externalid" and given != identity.subject:
                    raise ScimError(400, "externalId cannot change.", "mutability")
                elif kind != "remove":
                    email = _email_change(attr, given) or email
        scim_user_upsert(
            provider=self.provider,
            external_id=identity.subject,
            email=email,
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


def _member_ids(members: Any) -> list[str]:
    if not isinstance(members, list) or not all(
        isinstance(m, dict) and isinstance(m.get("value"), str | int) for m in members
    ):
        raise ScimError(400, "members must be a list of {value: id}.", "invalidValue")
    return [str(m["value"]) for m in members]


def _display_name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > 150:
        raise ScimError(400, "displayName is required (at most 150 characters).", "invalidValue")
    return name


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
        name = _display_name(self.body.get("displayName"))
        ids = _member_ids(self.body.get("members") or [])
        group = scim_group_create(provider=self.provider, name=name, actor=self.actor)
        self._members(group, ids, "add")
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
    # A group is read, patched or deleted; creating (POST) is on the collection only.
    http_method_names = ["get", "patch", "delete", "options"]

    def _group(self, pk: str) -> ScimGroup | None:
        try:
            key = uuid.UUID(str(pk))
        except ValueError:  # not a group id this hub hands out
            return None
        return ScimGroup.objects.filter(provider=self.provider, key=key).first()

    def get(self, request: HttpRequest, pk: str):  # type: ignore[override]
        group = self._group(pk)
        return _ok(_group_body(group)) if group else _error(404, "No such group.")

    def patch(self, request: HttpRequest, pk: str):
        """Members added, removed (also by `members[value eq "id"]`) or replaced as a whole,
        and displayName replaced (the members keep the group under its new name)."""
        group = self._group(pk)
        if group is None:
            return _error(404, "No such group.")
        for kind, path, value in _operations(self.body):
            single = MEMBER_FILTER.fullmatch(path)
            if single:
                if kind != "remove":
                    raise ScimError(400, "A member filter can only be removed.", "invalidPath")
                self._members(group, [single[1]], "remove")
                continue
            for attr, given in _targets(path, value).items():
                self._apply(group, kind, attr, given)
        return self.get(request, pk)

    def _apply(self, group: ScimGroup, kind: str, attr: str, given: Any) -> None:
        if attr == "members":
            current = [m["value"] for m in _group_body(group)["members"]]
            if kind == "remove" and given is None:
                self._members(group, current, "remove")  # no value: every member
            elif kind == "replace":
                wanted = _member_ids(given)
                self._members(group, [m for m in current if m not in wanted], "remove")
                self._members(group, wanted, "add")
            else:
                self._members(group, _member_ids(given), kind)
        elif attr == "displayname":
            if kind == "remove":
                raise ScimError(400, "displayName cannot be removed.", "mutability")
            scim_group_rename(group=group, name=_display_name(given), actor=self.actor)
        elif attr not in ("id", "externalid", "schemas", "meta"):
            raise ScimError(400, "Only members and displayName can change.", "invalidPath")

    def delete(self, request: HttpRequest, pk: str):
        group = self._group(pk)
        if group is None:
            return _error(404, "No such group.")
        members = _group_body(group)["members"]
        self._members(group, [m["value"] for m in members], "remove")
        scim_group_delete(group=group, actor=self.actor)
        return HttpResponse(status=204)
