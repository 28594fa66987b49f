"""Hostile input to every page of the admin gets a page or a 4xx, never a 500: garbage in the
changelist's query string (search, ordering, page, filters), object ids that are no id,
unknown actions, add forms of garbage, and the custom admin pages (data map, Art. 30 record,
match model re-estimation, retention, source mapping preview, request decisions)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from access.roles import DPO
from tests.factories import make_staff, make_subject

pytestmark = pytest.mark.django_db

QUERIES = [
    "?q=%00",
    "?q=" + "x" * 5000,
    "?q=%ED%A0%80",  # a lone surrogate, UTF-8 encoded
    "?q=a%27%22%3C",
    "?o=zz",
    "?o=1.-99",
    "?p=99999999999999999999999",
    "?p=-1",
    "?all=",
    "?e=1",
    "?region=%00",
    "?status=%00",
    "?created_at__gte=notadate",
    "?id__in=a,b",
    "?_to_field=password",
]
OBJECT_IDS = ["x", "%00", "99999999999999999999999", "00000000-0000-0000-0000-000000000000", "-1"]
CUSTOM_PAGES = [
    "/admin/subject-timeline/00000000-0000-0000-0000-000000000000/",
    "/admin/consent/processingactivity/data-map/?x=%00",
    "/admin/consent/processingactivity/art30/?region=%00",
    "/admin/consent/processingactivity/art30.csv?region=zz",
    "/admin/profiles/matchmodel/re-estimate/",
    "/admin/consent/retentionpolicy/apply/",
    "/admin/activation/sourceendpoint/preview/",
    "/admin/dsar/datasubjectrequest/00000000-0000-0000-0000-000000000000/decide/",
]


@pytest.fixture
def superuser_client(client, roles, regimes):
    user = make_staff(DPO)
    user.is_superuser = True
    user.save()
    client.force_login(user)
    make_subject(region="EU")
    return client


def _changelists() -> list[str]:
    return sorted(
        reverse(f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist")
        for m in admin.site._registry
    )


@pytest.mark.parametrize("changelist", _changelists())
def test_no_admin_page_answers_hostile_input_with_a_500(superuser_client, changelist):
    client = superuser_client
    failures = []

    def check(method: str, url: str, data: dict | None = None) -> None:
        response = getattr(client, method)(url, data)
        if response.status_code >= 500:
            failures.append((method, url[:80], response.status_code))

    for query in QUERIES:
        check("get", changelist + query)
    for object_id in OBJECT_IDS:
        check("get", f"{changelist}{object_id}/change/")
        check("post", f"{changelist}{object_id}/change/", {"name": "\x00"})
    check("post", changelist, {"action": "\x00", "_selected_action": ["x", "%00"]})
    check("post", changelist + "add/", {"name": "\x00", "value": "x" * 100_000, "email": "\x00"})
    assert not failures


@pytest.mark.parametrize(
    "url",
    [
        "/admin/audit/auditevent/?occurred_at__year=9999",  # date hierarchy: to 1 Jan 10000
        "/admin/audit/auditevent/?occurred_at__year=99999999999",
        "/admin/consent/consentrecord/?recorded_at__year=9999&recorded_at__month=12",
        "/admin/ops/workerheartbeat/?started_at__year=0",  # a plain lookup on any date field
        "/admin/profiles/importjob/?created_at__year__gte=0",
        "/admin/profiles/importjob/?created_at__year__in=2020,10000",
    ],
)
def test_a_year_filter_no_datetime_can_bound_is_a_400(superuser_client, url):
    """Django's changelist checks that a year is a number, not that it is a datetime's year:
    each of these was a 500 (ValueError or OverflowError building the range)."""
    response = superuser_client.get(url)
    assert response.status_code == 400
    assert b"A year in a filter must be between 1 and 9998" in response.content


def test_a_year_filter_in_range_still_filters(superuser_client):
    assert (
        superuser_client.get("/admin/audit/auditevent/?occurred_at__year=2026").status_code == 200
    )
    response = superuser_client.get("/admin/audit/auditevent/?occurred_at__year=abc")
    assert response.status_code == 302  # Django's own answer to a bad filter
    assert "e=1" in response["Location"]


@pytest.mark.parametrize("page", CUSTOM_PAGES)
def test_the_custom_admin_pages_answer_hostile_input_with_a_page_or_a_4xx(superuser_client, page):
    assert superuser_client.get(page).status_code < 500
    assert superuser_client.post(page, {"x": "\x00", "sample": "{" * 5000}).status_code < 500


@pytest.mark.parametrize(
    "url", ["/admin/profiles/subject/?q=%00", "/admin/consent/purpose/?lawful_basis__exact=%00"]
)
def test_a_nul_in_a_page_query_is_a_400(superuser_client, url):
    """PostgreSQL cannot compare such text: without this check a search or filter with it
    was a 500 there (found by the test above on PostgreSQL)."""
    response = superuser_client.get(url)
    assert response.status_code == 400
    assert b"without NUL characters" in response.content


def test_a_nul_in_a_submitted_admin_form_is_a_400(superuser_client):
    response = superuser_client.post(
        "/admin/activation/destination/export-purpose/",
        {"purpose": "\x00", "identifiers": "sha256"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("changelist", _changelists())
@pytest.mark.parametrize("selected", ["x", "99999999999999999999999"])
def test_an_action_on_a_selection_that_holds_no_id_is_a_400(superuser_client, changelist, selected):
    """Django filters the selected rows as posted: a word for a number, a number beyond the
    column or a non-UUID was a ValueError, OverflowError or ValidationError (500) on every
    changelist with an action (revoke, replay, accept, release, delete...)."""
    model_admin = next(
        a
        for m, a in admin.site._registry.items()
        if changelist.endswith(f"/{m._meta.app_label}/{m._meta.model_name}/")
    )
    action = [*(model_admin.actions or []), "delete_selected"][0]
    response = superuser_client.post(
        changelist, {"action": action, "_selected_action": [selected], "post": "yes"}
    )
    assert response.status_code == 400
    assert b"not one this list can hold" in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/access/apitoken/?user=99999999999999999999999",
        "/admin/activation/destination/?purposes__id__exact=99999999999999999999999",
        "/admin/activation/inboxmessage/?attempts__in=1,99999999999999999999999",
        "/admin/consent/retentionrun/?policy__exact=-99999999999999999999999",
    ],
)
def test_a_filter_on_a_number_beyond_its_column_is_a_400(superuser_client, url):
    """On SQLite such a filter failed as a 500 (OverflowError binding the parameter)."""
    response = superuser_client.get(url)
    assert response.status_code == 400


def test_a_filter_on_a_number_within_its_column_still_filters(superuser_client):
    assert superuser_client.get("/admin/access/apitoken/?user=1").status_code == 200
    assert (
        superuser_client.get("/admin/activation/inboxmessage/?attempts__in=1,2").status_code == 200
    )


@pytest.mark.parametrize("target", ["x", "99999999999999999999999"])
def test_closing_a_system_task_that_is_no_task_id_is_refused_as_unknown(superuser_client, target):
    """The request page's "task done" took its target as the task's UUID: any other text
    was a 500 (ValidationError)."""
    from audit.actors import Actor
    from dsar.models import DataSubjectRequest
    from dsar.services import request_create

    dsr, _ = request_create(
        kind="access",
        channel="api",
        actor=Actor.system("tests"),
        subject=make_subject(region="EU"),
        verification="service",
    )
    response = superuser_client.post(
        f"/admin/dsar/datasubjectrequest/{dsr.pk}/decide/",
        {"action": "task_done", "target": target},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Unknown system task." in response.content
    assert DataSubjectRequest.objects.get(pk=dsr.pk).status == dsr.status


@pytest.mark.parametrize("policy", ["x", "99999999999999999999999", "\u00b2"])
def test_applying_a_retention_policy_that_is_no_policy_id_applies_none(superuser_client, policy):
    """It was a 500 (ValueError; OverflowError on SQLite)."""
    response = superuser_client.post("/admin/consent/retentionpolicy/apply/", {"policy": policy})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/admin/consent/consentproperty/add/", "allowed_origins"),
        ("/admin/consent/processingactivity/add/", "transfers"),
        ("/admin/activation/sourceendpoint/add/", "mapping"),
        ("/admin/dsar/systemconnector/add/", "handles"),
        ("/admin/sso/groupmapping/add/", "regions"),
    ],
)
def test_json_nested_thousands_deep_in_an_admin_form_is_a_field_error(superuser_client, url, field):
    """Django's form field parsed it with json.loads: a RecursionError, a 500 on every admin
    form with a JSON column."""
    response = superuser_client.post(url, {field: "[" * 5000 + "]" * 5000})
    assert response.status_code == 200
    assert b"JSON nested deeper than" in response.content


@pytest.mark.parametrize(
    ("value", "message"),
    [('["\\u0000"]', b"without NUL characters"), ("[NaN]", b"Enter a valid JSON.")],
)
def test_json_no_column_can_store_is_a_field_error(superuser_client, value, message):
    """An escaped NUL and NaN passed Django's field; PostgreSQL cannot store either."""
    response = superuser_client.post("/admin/sso/groupmapping/add/", {"regions": value})
    assert response.status_code == 200
    assert message in response.content


def test_corrections_nested_thousands_deep_open_no_request(superuser_client):
    from dsar.models import DataSubjectRequest

    response = superuser_client.post(
        "/admin/dsar/datasubjectrequest/add/",
        {
            "kind": "rectification",
            "email": "x@example.com",
            "region": "EU",
            "attestation": "on",
            "corrections": "[" * 5000,
        },
    )
    assert response.status_code == 200
    assert b"JSON nested deeper than" in response.content
    assert not DataSubjectRequest.objects.exists()


def test_json_within_the_rules_is_still_json():
    from core.forms import CheckedJSONField

    assert CheckedJSONField().clean('["EU", {"a": [1]}]') == ["EU", {"a": [1]}]
    assert CheckedJSONField(required=False).clean("") is None


@pytest.mark.parametrize("page", ["config", "qrcode"])
@pytest.mark.parametrize("pk", ["1", "99999999999999999999999"])
def test_an_authenticator_device_that_does_not_exist_is_a_404(superuser_client, page, pk):
    """django-otp's pages looked the device up with .get(): a 500 (DoesNotExist)."""
    response = superuser_client.get(f"/admin/otp_totp/totpdevice/{pk}/{page}/")
    assert response.status_code == 404


def test_an_authenticator_device_s_configuration_is_still_shown(superuser_client):
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=get_user_model().objects.first(), name="phone")
    response = superuser_client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/admin/consent/notice/add/", "purposes"),
        ("/admin/consent/processingactivity/add/", "systems"),
        ("/admin/activation/destination/add/", "purposes"),
        ("/admin/auth/group/add/", "permissions"),
    ],
)
@pytest.mark.parametrize("chosen", ["99999999999999999999999", "-99999999999999999999999"])
def test_a_chosen_id_beyond_its_column_is_an_invalid_choice(superuser_client, url, field, chosen):
    """Django's field filtered the chosen ids as posted: a 500 on SQLite (OverflowError)."""
    response = superuser_client.post(url, {field: chosen})
    assert response.status_code == 200
    assert b"Select a valid choice." in response.content


def test_a_chosen_id_within_its_column_is_still_chosen(superuser_client):
    from consent.models import Purpose
    from core.forms import CheckedModelMultipleChoiceField

    purpose = Purpose.objects.first()
    field = CheckedModelMultipleChoiceField(queryset=Purpose.objects.all())
    assert list(field.clean([str(purpose.pk)])) == [purpose]


def test_a_chosen_id_beyond_its_column_in_an_inline_is_an_invalid_choice(superuser_client):
    """The consent property's Consent Mode rows choose purposes in an inline: the same 500."""
    from consent.models import ConsentProperty

    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_inline")
    prefix = "consent_mode_mappings"
    response = superuser_client.post(
        f"/admin/consent/consentproperty/{prop.pk}/change/",
        {
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-0-purposes": "99999999999999999999999",
        },
    )
    assert response.status_code == 200
    assert b"Select a valid choice." in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/consent/purpose/?id__regex=%5B",  # no pattern: a 500 on SQLite and PostgreSQL
        "/admin/auth/user/?username__iregex=(",
        "/admin/dsar/datasubjectrequest/?assigned_to__username__regex=a",
    ],
)
def test_a_regular_expression_filter_is_a_400(superuser_client, url):
    """The admin builds no regex filter; one typed into the URL ran in the database, where an
    invalid pattern failed as a 500 (and SQLite runs Python's backtracking re on every row)."""
    response = superuser_client.get(url)
    assert response.status_code == 400
    assert b"not filtered by regular expression" in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/access/apitoken/?scopes__contains=x",
        "/admin/consent/jurisdiction/?regions__contained_by=EU",
    ],
)
def test_a_json_containment_filter_is_a_400_where_the_database_has_none(superuser_client, url):
    """SQLite has no JSON containment: Django raised NotSupportedError (a 500) running it."""
    from django.db import connection

    response = superuser_client.get(url)
    if connection.features.supports_json_field_contains:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert b"cannot filter a JSON column by containment" in response.content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/audit/auditevent/?occurred_at__gte=0001-01-01T00:00:00%2B14:00",
        "/admin/access/apitoken/?created_at__lt=9999-12-31T23:59:59-14:00",
        "/admin/consent/consentrecord/?recorded_at__range=2020-01-01,9999-12-31T23:59-01:00",
        "/admin/auth/user/?groups__user__last_login__gt=0001-01-01T00:00%2B01:00",
    ],
)
def test_a_datetime_filter_beyond_the_years_of_a_datetime_is_a_400(superuser_client, url):
    """Such a time is out of range once in UTC: an OverflowError (500) binding it on SQLite."""
    response = superuser_client.get(url)
    assert response.status_code == 400
    assert b"between years 1 and 9999" in response.content


def test_a_datetime_filter_within_range_still_filters(superuser_client):
    response = superuser_client.get(
        "/admin/audit/auditevent/?occurred_at__gte=2020-01-01T00:00:00%2B14:00"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("started_at__month=99999999999999999999", b"A month in a filter must be between 1 and 12"),
        ("started_at__month=12&started_at__day=-9999999999999999999", b"A day in a filter must"),
        ("started_at__month=13", b"A month in a filter must be between 1 and 12"),
    ],
)
def test_a_month_or_day_no_date_has_is_a_400(superuser_client, query, message):
    """The date hierarchy builds a datetime of them: beyond a C long an OverflowError (500),
    which Django does not catch as it catches a ValueError."""
    response = superuser_client.get(f"/admin/consent/retentionrun/?started_at__year=2020&{query}")
    assert response.status_code == 400
    assert message in response.content


def test_a_month_and_day_of_the_date_hierarchy_still_filter(superuser_client):
    response = superuser_client.get(
        "/admin/consent/retentionrun/?started_at__year=2020&started_at__month=2&started_at__day=29"
    )
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_search_longer_than_any_column_is_a_400(superuser_client, method):
    """On SQLite a search becomes LIKE patterns of at most 50,000 bytes: a longer term was a
    500 (OperationalError), typed or posted to the private search of the request desk."""
    from ops.middleware import ADMIN_SEARCH_MAX_CHARS

    term = "x" * 60_000
    if method == "get":
        response = superuser_client.get("/admin/consent/purpose/", {"q": term})
    else:
        response = superuser_client.post(
            "/admin/dsar/datasubjectrequest/", {"_search": "1", "q": term}
        )
    assert response.status_code == 400
    assert f"at most {ADMIN_SEARCH_MAX_CHARS} characters".encode() in response.content
    assert (
        superuser_client.get("/admin/consent/purpose/?name__icontains=" + term).status_code == 400
    )


def test_a_search_within_the_limit_still_searches(superuser_client):
    response = superuser_client.get("/admin/consent/purpose/", {"q": "x" * 1000})
    assert response.status_code == 200
