"""Admin searches by personal data keep the searched value out of every URL, and so out of the
web server's request log, the browser history and Referer headers: the search form posts the
term and the changelist is reached through an opaque, short-lived search id."""

from __future__ import annotations

import html.parser
import http.cookiejar
import logging
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, quote_plus

import pytest
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test import Client

from audit.models import AuditEvent
from tests.factories import make_staff, make_subject

CANARY = "canary@example.org"


def _forms_of(value: str) -> list[str]:
    """The ways a value can appear in a URL or a log line."""
    return [value, quote(value), quote_plus(value), quote(value, safe="")]


def _assert_absent(value: str, texts: list[str]) -> None:
    for text in texts:
        for form in _forms_of(value):
            assert form not in text, f"{form!r} leaked into {text!r}"


class _SearchForm(html.parser.HTMLParser):
    """The changelist's search form as the page renders it: method, action and fields."""

    def __init__(self) -> None:
        super().__init__()
        self.method, self.action, self.fields, self._inside = "get", "", {}, False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if tag == "form" and attributes.get("id") == "changelist-search":
            self._inside = True
            self.method = (attributes.get("method") or "get").lower()
            self.action = attributes.get("action") or ""
        elif tag == "input" and self._inside and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False


def _submit_search(client: Client, url: str, term: str):
    """Fill the page's search box with `term` and submit the form as a browser would."""
    page = client.get(url)
    form = _SearchForm()
    form.feed(page.content.decode())
    fields = {**form.fields, "q": term}
    target = urllib.parse.urljoin(url, form.action) if form.action else url
    if form.method == "post":
        return client.post(target, fields, follow=True)
    return client.get(target, fields, follow=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("/admin/profiles/subject/", "DPO"),
        ("/admin/dsar/datasubjectrequest/", "DPO"),
        ("/admin/auth/user/", None),
        # django-axes' sign-in attempts and logs: searched by the username typed and the IP.
        ("/admin/axes/accessattempt/", None),
        ("/admin/axes/accesslog/", None),
        ("/admin/axes/accessfailurelog/", None),
        # Authenticator devices: searched by their staff member's username and e-mail.
        ("/admin/otp_totp/totpdevice/", None),
        # The consent ledger and its projection: searched by subject and visitor id.
        ("/admin/consent/consentrecord/", "DPO"),
        ("/admin/consent/currentconsent/", "DPO"),
    ],
)
def test_a_search_by_e_mail_puts_the_value_in_no_url(client, roles, url, role):
    subject = make_subject(region="EU", email=CANARY)
    cache.clear()
    if role:
        client.force_login(make_staff(role))
    else:
        client.force_login(make_staff(None, is_superuser=True, email=CANARY))
    response = _submit_search(client, url, CANARY)
    assert response.status_code == 200
    urls = [hop for hop, _ in response.redirect_chain]
    request = response.wsgi_request
    _assert_absent(CANARY, [*urls, request.get_full_path(), request.META.get("QUERY_STRING", "")])
    assert "sid=" in request.get_full_path()
    # The search ran, and every link on the result page (paging, filters, sorting) keeps the id.
    assert response.context["cl"].query == CANARY
    if url == "/admin/profiles/subject/":
        assert [s.pk for s in response.context["cl"].result_list] == [subject.pk]
    hrefs = [part.split('"', 1)[0] for part in response.content.decode().split('href="')[1:]]
    _assert_absent(CANARY, hrefs)
    # Who looked for whom: one audited read of the list (how many found), never the term.
    audited = AuditEvent.objects.filter(reason="admin search")
    label = response.context["cl"].model._meta.label_lower
    assert [(e.action, e.object_type) for e in audited] == [(f"{label}.list", label)]
    found = response.context["cl"].result_count
    assert audited.get().object_id == f"page:{found}"
    _assert_absent(CANARY, [str(v) for e in audited.values() for v in e.values()])


@pytest.mark.django_db
def test_paging_and_filtering_keep_the_search_through_its_id(client, roles):
    subject = make_subject(region="EU", email=CANARY)
    make_subject(region="EU")
    client.force_login(make_staff("DPO"))
    first = _submit_search(client, "/admin/profiles/subject/", CANARY)
    search_id = first.wsgi_request.GET["sid"]
    filtered = client.get(
        "/admin/profiles/subject/", {"sid": search_id, "region__exact": "EU", "o": "1"}
    )
    assert filtered.status_code == 200
    assert [s.pk for s in filtered.context["cl"].result_list] == [subject.pk]


@pytest.mark.django_db
def test_a_search_id_is_useless_to_another_account_and_expires(client, roles, settings):
    make_subject(region="EU", email=CANARY)
    client.force_login(make_staff("DPO"))
    search_id = _submit_search(client, "/admin/profiles/subject/", CANARY).wsgi_request.GET["sid"]
    other = Client()
    other.force_login(make_staff("DPO"))
    response = other.get("/admin/profiles/subject/", {"sid": search_id}, follow=True)
    assert response.context["cl"].query == ""
    assert "expired" in response.content.decode()
    cache.clear()  # what the TTL does after CUSTODIA_ADMIN_SEARCH_SECONDS
    expired = client.get("/admin/profiles/subject/", {"sid": search_id}, follow=True)
    assert expired.context["cl"].query == ""


@pytest.mark.django_db
def test_a_value_typed_into_the_address_bar_does_not_spread_into_links(client, roles):
    make_subject(region="EU", email=CANARY)
    client.force_login(make_staff("DPO"))
    response = client.get("/admin/profiles/subject/", {"q": CANARY})
    assert response.status_code == 302
    _assert_absent(CANARY, [response["Location"]])
    assert client.get(response["Location"]).context["cl"].query == CANARY


@pytest.mark.django_db
def test_a_role_that_cannot_see_subjects_cannot_store_a_search(client, roles):
    client.force_login(make_staff("Marketing analyst"))
    response = client.post("/admin/profiles/subject/", {"q": CANARY, "_search": "1"})
    assert response.status_code == 403


# --- the request log of a real server -------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def _logging_server() -> Iterator[tuple[str, list[str]]]:
    """The hub behind Django's development server handler, which logs every request line to
    `django.server` as an access log does; every logger of the project is listened to."""
    lines = _Lines()
    loggers = [
        logging.getLogger(name) for name in ("", "django", "django.server", "django.request", "ops")
    ]
    previous = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(lines)
        lg.setLevel(logging.DEBUG)
    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", lines.lines
    finally:
        server.shutdown()
        server.server_close()
        for lg, level in previous:
            lg.removeHandler(lines)
            lg.setLevel(level)


@pytest.mark.django_db(transaction=True)
def test_the_searched_value_is_in_no_line_of_the_request_log(roles):
    subject = make_subject(region="EU", email=CANARY)
    officer = Client()
    officer.force_login(make_staff("DPO"))
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with _logging_server() as (base, lines):
        host = urllib.parse.urlsplit(base).hostname
        for name, morsel in officer.cookies.items():
            jar.set_cookie(
                http.cookiejar.Cookie(
                    0,
                    name,
                    morsel.value,
                    None,
                    False,
                    host,
                    False,
                    False,
                    "/",
                    True,
                    False,
                    None,
                    False,
                    None,
                    None,
                    {},
                )
            )
        url = f"{base}/admin/profiles/subject/"
        page = opener.open(url, timeout=30).read().decode()
        form = _SearchForm()
        form.feed(page)
        fields = urllib.parse.urlencode({**form.fields, "q": CANARY})
        target = urllib.parse.urljoin(url, form.action) if form.action else url
        if form.method == "post":
            csrf = next(c.value for c in jar if c.name == "csrftoken")
            request = urllib.request.Request(
                target, data=fields.encode(), headers={"X-CSRFToken": csrf, "Referer": url}
            )
        else:
            request = urllib.request.Request(f"{target}?{fields}")
        with opener.open(request, timeout=30) as response:
            result, final_url = response.read().decode(), response.geturl()
    assert str(subject.pk) in result  # the search found the subject
    assert any("/admin/profiles/subject/" in line for line in lines)  # the log was listened to
    _assert_absent(CANARY, [*lines, final_url])
