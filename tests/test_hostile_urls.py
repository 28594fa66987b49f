"""Every URL of the hub outside the JSON API (which scripts/fuzz.sh fuzzes against its schema)
answers hostile input with a page or a 4xx, never a 500: each URL pattern of the resolver,
walked as an anonymous visitor, a superuser and an officer limited to one region, with object
ids that are no id (beyond 64 bits, negative, not a UUID, a NUL, a lone surrogate, very long),
changelist query strings of garbage (ordering, pages, unknown lookups, filters the database
would fail on, searches), every HTTP method, and bodies of garbage, of the wrong type or large.
The Django test client does not check CSRF tokens, so every POST reaches its view."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.signals import got_request_exception
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from access.roles import PRIVACY_OFFICER
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

# Path values put in place of each argument of a URL pattern (admin object ids, tokens, slugs).
HOSTILE_IDS = [
    str(2**63),
    "99999999999999999999",
    "-1",
    "not-a-uuid",
    "%00",
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded
    "x" * 3000,
    "00000000-0000-0000-0000-000000000000",
]
# Query strings for every changelist (a field a model lacks is an unknown filter to it). These
# render the list (ordering, pages, facets, searches, popups, repeated and empty filters):
CHANGELIST_LISTS = [
    "o=1.-99.x",
    "o=" + ".".join(str(i) for i in range(-150, 150)),
    "p=-1",
    "all=&p=2",
    "_facets=1",
    "q=a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "q=99999999999999999999",
    "_to_field=id&_popup=1",
    "region=EU&region=US-CA&status__in=",
]
# and these Django refuses (the first five), or the hub before Django (garbage, a filter the
# database would fail on: a regular expression, a datetime out of range...); more per field.
CHANGELIST_REFUSALS = [
    "e=1",
    "pk__gt=x",
    "unknown__lookup=1",
    "id__in=x",
    "_popup=1&_to_field=zzz",
    "o=-",
    "o=99999999999999999999",
    "p=99999999999999999999",
    "q=%00",
    "q=" + "x" * 2000,
    "_to_field=password",
    "sid=" + "z" * 3000,
    "id__in=1,99999999999999999999",
    "id__regex=%5B",
    "region__exact=%00",
]
# Filters on a field of the model (its first field of the kind), by the field's type.
FIELD_REFUSALS = {
    "DateTimeField": [
        "{}__gte=notadate",
        "{}__gte=0001-01-01T00:00:00%2B14:00",
        "{}__range=2020-01-01,9999-12-31T23:59:59-14:00",
    ],
    "JSONField": ["{}__contains=EU", "{}__contained_by=EU"],
    "CharField": ["{}__icontains=" + "x" * 60000, "{}__iregex=("],
    "ForeignKey": ["{}=-99999999999999999999", "{}__id__exact=nope"],
}
DATE_HIERARCHY_REFUSALS = [
    "{0}__year=2020&{0}__month=99999999999999999999",
    "{0}__year=2020&{0}__month=12&{0}__day=-99999999999999999999",
]


def _field_refusals(changelist: str) -> list[str]:
    """The field filters of FIELD_REFUSALS (and its date hierarchy's) for one changelist."""
    model_admin = next(
        a for m, a in admin.site._registry.items() if changelist.endswith(f"/{m._meta.model_name}/")
    )
    queries = []
    for kind, templates in FIELD_REFUSALS.items():
        field = next(
            (f for f in model_admin.model._meta.fields if f.get_internal_type() == kind), None
        )
        queries += [t.format(field.name) for t in templates] if field else []
    if model_admin.date_hierarchy:
        queries += [t.format(model_admin.date_hierarchy) for t in DATE_HIERARCHY_REFUSALS]
    return queries


# Query strings for every other page.
PAGE_QUERIES = [
    "x=%00",
    "next=//evil.example",
    "key=" + "k" * 3000,
    "key=pk_demo_shop&lang=%ED%A0%80",
    "key=pk_demo_shop&customer=" + "c" * 3000,
    "region=ZZ&region=EU",
    "state=x&code=y",
    "error=x",
]
# For admin pages other than changelists (forms keep `_changelist_filters` in their links).
ADMIN_QUERIES = [
    "_changelist_filters=o%3Dzz%26p%3D-1%26id__in%3Dx",
    "_to_field=password",
    "_popup=1&_to_field=zzz",
    "region=ZZ&next=//evil.example",
]
AUTOCOMPLETE_QUERIES = [
    "app_label=auth&model_name=user&field_name=groups&term=x",
    "app_label=auth&model_name=user&field_name=password&term=x",
    "app_label=nope&model_name=nope&field_name=nope",
    "app_label=profiles&model_name=subject&field_name=id&term=%25&page=99999999999999999999",
    "app_label=dsar&model_name=datasubjectrequest&field_name=assigned_to&term=" + "x" * 3000,
    "app_label=" + "a" * 3000,
    "app_label=auth&app_label=dsar&model_name=user&term=%00",
]
METHODS = ["head", "options", "put", "patch", "delete"]
# An admin view treats any method but POST as GET (only the public and own pages restrict
# them): on the admin's model pages, HEAD and one of the others.
ADMIN_METHODS = ["head", "put"]
# (body, content type); None posts the dict as a form.
POST_BODIES: list[tuple[object, str | None]] = [
    ({}, None),
    ({"x": "\x00", "name": "\x00"}, None),
    ({"name": "y" * 100_000, "_save": "1", "q": "y" * 100_000, "_search": "1"}, None),
    (b"\xff\xfe garbage", "application/octet-stream"),
    (b"{not json", "application/json"),
    (b"a=%ZZ&b=%ED%A0%80", "application/x-www-form-urlencoded"),
    (b"--zz\r\nbroken", "multipart/form-data; boundary=zz"),
]
LOGOUT = "/admin/logout/"


@pytest.fixture
def hub(roles, regimes):
    """The demo's data, a row of every model the demo leaves empty that is easy to make, and
    the three visitors: anonymous, a superuser and a privacy officer of the EU."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from audit.models import AuditAlert, PublishedHead
    from ops.models import WorkerHeartbeat
    from sso.models import GroupMapping, IdentityProvider, SsoDomain

    call_command("seed_demo", subjects=7, stdout=StringIO())
    now = timezone.now()
    superuser = make_staff(None)
    superuser.is_superuser = True
    superuser.save()
    officer = make_staff(PRIVACY_OFFICER, regions=["EU"])
    oidc = IdentityProvider.objects.create(
        kind="oidc", name="Corp", slug="corp", issuer="http://127.0.0.1:9", client_id="c"
    )
    # Its IdP fields not filled in yet: the sign-in is refused, not a 500.
    IdentityProvider.objects.create(kind="saml", name="Corp SAML", slug="corp-saml")
    GroupMapping.objects.create(provider=oidc, value="officers", role=PRIVACY_OFFICER)
    SsoDomain.objects.create(domain="corp.example", provider=oidc)
    AuditAlert.objects.create(message="chain broken")
    PublishedHead.objects.create(sequence=1, hash="0" * 64)
    WorkerHeartbeat.objects.create(hostname="w1", pid=1, started_at=now, last_seen=now)
    axes = {"user_agent": "x", "ip_address": "10.0.0.1", "username": "x", "path_info": "/"}
    AccessAttempt.objects.create(get_data="", post_data="", failures_since_start=1, **axes)
    AccessLog.objects.create(**axes)
    AccessFailureLog.objects.create(**axes)
    TOTPDevice.objects.create(user=officer, name="phone")
    return {"anonymous": None, "superuser": superuser, "officer": officer}


def _routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            yield route


def _first_ids() -> dict[str, str]:
    """The id of one row of each admin's model, by its changelist's path."""
    ids = {}
    for model in admin.site._registry:
        pk = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if pk is not None:
            ids[f"admin/{model._meta.app_label}/{model._meta.model_name}/"] = str(pk)
    return ids


_ARGUMENT = re.compile(r"<(?:\w+:)?(\w+)>")
# A row's change, delete, history and bare addresses (as a route or as a URL).
_ROW_PAGE = re.compile(r"^/?admin/\w+/\w+/(<path:object_id>|[^/]+)/(change/|delete/|history/)?$")


def _real_arguments(route: str, ids: dict[str, str]) -> dict[str, str]:
    """Values of a route's arguments that name something that exists (where one does)."""
    from django.contrib.contenttypes.models import ContentType

    from profiles.models import Subject

    model_path = re.match(r"admin/\w+/\w+/", route)
    subject = ids["admin/profiles/subject/"]
    known = {
        "object_id": ids.get(model_path.group(0)) if model_path else subject,
        "pk": ids.get(model_path.group(0)) if model_path else "1",
        "id": ids.get(model_path.group(0)) if model_path else None,
        "subject_id": subject,
        "content_type_id": str(ContentType.objects.get_for_model(Subject).pk),
        "slug": "corp-saml" if "/saml/" in route else "corp",
        "token": "nope",
    }
    return {name: known.get(name) or "" for name in _ARGUMENT.findall(route)}


class Urls:
    """The hub's URLs outside /api/v1/, from the resolver, by kind."""

    def __init__(self) -> None:
        ids = _first_ids()
        self.changelists = sorted(
            f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in admin.site._registry
        )
        self.admin: list[str] = ["/admin/auth/", "/admin/nope/"]  # an app index, the catch-all
        self.objects: list[str] = []  # admin pages of a real row
        self.public: list[str] = []
        self.hostile: list[str] = []
        for route in _routes(get_resolver()):
            if route.startswith("api/v1/") or route.startswith("admin/^(") or "(?P<" in route:
                continue  # the API is fuzzed against its schema; the regexes are above
            url = "/" + route
            if not _ARGUMENT.search(route):
                if url not in self.changelists:
                    (self.admin if route.startswith("admin/") else self.public).append(url)
                continue
            real = _real_arguments(route, ids)
            if all(real.values()):
                url = "/" + _ARGUMENT.sub(lambda m, real=real: real[m.group(1)], route)
                (self.objects if route.startswith("admin/") else self.public).append(url)
            # A row's delete, history and bare address look it up as its change page does.
            row_page = _ROW_PAGE.search(route) and not route.endswith("/change/")
            values = [*HOSTILE_IDS[:4:3], "%00"] if row_page else HOSTILE_IDS
            self.hostile += ["/" + _ARGUMENT.sub(value, route) for value in values]


class Crawl:
    """A visitor's client that records every answer of 500 or more (or with a traceback), with
    the exception the view raised."""

    def __init__(self, user) -> None:
        self.client = Client(raise_request_exception=False)
        if user is not None:
            self.client.force_login(user)
        self.failures: list[str] = []
        self._raised: list[str] = []

    def __enter__(self) -> Crawl:
        got_request_exception.connect(self._record)
        return self

    def __exit__(self, *exc) -> None:
        got_request_exception.disconnect(self._record)

    def _record(self, sender, **kwargs) -> None:
        self._raised.append(traceback.format_exc(limit=-3))

    def hit(self, method: str, url: str, body=None, content_type: str | None = None) -> None:
        self._raised.clear()
        if method == "post":
            extra = {"content_type": content_type} if content_type else {}
            response = self.client.post(url, body, **extra)
        else:
            response = getattr(self.client, method)(url)
        content = b"" if response.streaming else response.content
        if response.status_code >= 500 or b"Traceback" in content:
            if url == "/healthz" and response.status_code == 503:
                return  # no worker in this test: the health check says so
            raised = self._raised[-1] if self._raised else ""
            self.failures.append(
                f"{method.upper()} {url[:150]} -> {response.status_code}\n{raised}"
            )

    def walk(
        self,
        urls: list[str],
        queries: list[str] = (),  # type: ignore[assignment]
        methods: list[str] = (),  # type: ignore[assignment]
        bodies: list[tuple[object, str | None]] = (),  # type: ignore[assignment]
        *,
        get: bool = True,
    ) -> None:
        for url in urls:
            if url == LOGOUT:
                continue  # a POST there ends the session: the test does it last
            if get:
                self.hit("get", url)
            for query in queries:
                self.hit("get", f"{url}?{query}")
            for method in methods:
                self.hit(method, url)
            for body, content_type in bodies:
                self.hit("post", url, body, content_type)


def _form_pages(urls: Urls) -> list[str]:
    """Each admin's add page and a row's change page, and the admin's own pages of a row."""
    return [url for url in urls.admin if url.endswith("/add/")] + [
        url for url in urls.objects if not _ROW_PAGE.search(url) or url.endswith("/change/")
    ]


# What each visitor gets: the superuser, who reaches every view, the lists and forms of every
# admin; the officer of one region, whose lists and pages are scoped, the filters Django or the
# hub refuses; the anonymous visitor, whom the admin sends to its sign-in page, a request of
# each kind. Every visitor gets every variant on the public pages. (The whole cross product
# would take ten minutes on SQLite.)
def _superuser(crawl: Crawl, urls: Urls) -> None:
    own_pages = [url for url in urls.admin if not url.endswith("/add/")]
    crawl.walk(urls.changelists, CHANGELIST_LISTS + CHANGELIST_REFUSALS, ["head"])
    crawl.walk(urls.changelists, [], ["put"], POST_BODIES[:3], get=False)
    crawl.walk(own_pages, ADMIN_QUERIES, METHODS, POST_BODIES)
    crawl.walk(_form_pages(urls), ADMIN_QUERIES[:1], [], POST_BODIES[:2])
    others = [u for u in urls.objects if _ROW_PAGE.search(u) and not u.endswith("/change/")]
    crawl.walk(others, [], [], POST_BODIES[:1])  # a row's delete, history and bare address
    crawl.walk(urls.hostile)
    changes = [u for u in urls.hostile if any(u.endswith(f"/{v}/change/") for v in HOSTILE_IDS[:4])]
    crawl.walk(changes, [], [], POST_BODIES[:1], get=False)


def _officer(crawl: Crawl, urls: Urls) -> None:
    for changelist in urls.changelists:
        # Django's refusals read the (scoped) queryset; the hub's come before any view.
        queries = CHANGELIST_LISTS[-3:] + CHANGELIST_REFUSALS[:5] + _field_refusals(changelist)
        crawl.walk([changelist], queries, [], POST_BODIES[:1])
    crawl.walk(urls.admin + urls.objects, [], [], POST_BODIES[:1])
    crawl.walk([url for url in urls.hostile if any(f"/{v}/" in url for v in HOSTILE_IDS[:4:3])])


def _anonymous(crawl: Crawl, urls: Urls) -> None:
    crawl.walk(urls.changelists + urls.admin + urls.objects, [], [], POST_BODIES[:1])
    crawl.walk([url for url in urls.hostile if not url.startswith("/admin/")])


@pytest.mark.parametrize("visitor", ["anonymous", "superuser", "officer"])
def test_no_url_answers_hostile_input_with_a_500(hub, visitor):
    urls = Urls()
    with Crawl(hub[visitor]) as crawl:
        crawl.walk(urls.public, PAGE_QUERIES, METHODS, POST_BODIES)
        crawl.walk(["/admin/autocomplete/"], AUTOCOMPLETE_QUERIES)
        {"superuser": _superuser, "officer": _officer, "anonymous": _anonymous}[visitor](
            crawl, urls
        )
        crawl.walk([LOGOUT], [], METHODS, POST_BODIES)  # last: a POST ends the session
    assert not crawl.failures, "\n".join(crawl.failures)


def test_the_crawl_reaches_every_kind_of_page(hub):
    """The walk covers what it claims: each admin's changelist, and its change, delete and
    history pages of a real row where the demo has one, the custom admin pages, and the
    public, SSO and SCIM pages."""
    urls = Urls()
    assert len(urls.changelists) == len(admin.site._registry) > 40
    for url in [
        "/admin/autocomplete/",
        "/admin/password_change/",
        "/admin/consent/processingactivity/art30.csv",
        "/admin/dsar/datasubjectrequest/add/",
    ]:
        assert url in urls.admin
    for url in [
        "/privacy-center/",
        "/consent/banner.js",
        "/healthz",
        "/api/docs/",
        "/scim/v2/Users",
        "/sso/oidc/corp/callback/",
        "/sso/saml/corp-saml/acs/",
        "/privacy-center/download/nope/",
    ]:
        assert url in urls.public
    user = get_user_model().objects.order_by("pk").first()
    for url in [
        f"/admin/auth/user/{user.pk}/password/",
        f"/admin/auth/user/{user.pk}/history/",
        f"/admin/auth/user/{user.pk}/delete/",
    ]:
        assert url in urls.objects
    assert len([url for url in urls.objects if url.endswith("/change/")]) >= 30
    assert f"/admin/auth/user/{2**63}/delete/" in urls.hostile
    assert "/admin/otp_totp/totpdevice/-1/config/" in urls.hostile
