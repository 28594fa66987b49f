"""Request ids for tracing and audit; JSON errors for everything under /api/, and the checks
that refuse a hostile request before authentication (method, body size, query text)."""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import logging
import re
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.messages.middleware import MessageMiddleware
from django.core.exceptions import FieldDoesNotExist, SuspiciousOperation, ValidationError
from django.db import connection
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import timezone

from core.parsers import INVALID_TEXT_MESSAGE, body_limit, text_is_clean
from ops.errors import (
    SERVICE_UNAVAILABLE,
    UNAVAILABLE_RETRY_AFTER,
    django_request_error,
    json_error_response,
)

logger = logging.getLogger(__name__)
_REQUEST_ID = contextvars.ContextVar("custodia_request_id", default="")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_API_PREFIXES = ("/api/", "/healthz", "/.well-known/")
_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class RequestIdMiddleware:
    """Takes X-Request-ID if it is well formed, otherwise makes one; echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = _REQUEST_ID.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _REQUEST_ID.reset(token)
        response["X-Request-ID"] = request_id
        return response


def _all_clean(data: Any) -> bool:
    """No NUL character or lone surrogate in any key or value of a QueryDict."""
    return all(
        text_is_clean(key) and text_is_clean(value)
        for key, values in data.lists()
        for value in values
    )


def _unclean_form_refused(request: HttpRequest) -> HttpResponse | None:
    """Pages (the admin, the privacy center, sign-in): a NUL character or a lone surrogate in
    the query string or in a submitted form is a 400 before any view runs. PostgreSQL cannot
    store or even compare such text, so a filter or lookup with it would fail as a 500."""
    form = request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")
    if _all_clean(request.GET) and (
        request.method != "POST" or not form or _all_clean(request.POST)
    ):
        return None
    return HttpResponseBadRequest(INVALID_TEXT_MESSAGE, content_type="text/plain; charset=utf-8")


# A filter on the year of a date (`occurred_at__year=`, the admin's date hierarchy, `__year__gte=`)
# becomes a range of datetimes: from 1 January of the year to 1 January of the next one; the
# date hierarchy builds a datetime from the year, month and day it is given.
_DATE_PART_LOOKUP = re.compile(r"__(?:iso_)?(year|month|day)(?:__|$)")
_FILTER_DATE_PARTS = {"year": range(1, 9999), "month": range(1, 13), "day": range(1, 32)}


def _date_part_out_of_range_refused(request: HttpRequest) -> HttpResponse | None:
    """Pages: a year filter that no datetime can bound (0, 9999, 10**11), and a month or day
    no date has, are a 400. Django's changelist checks their digits, not their range: the
    range it builds from such a year overflows (ValueError, OverflowError) as a 500, on every
    admin with a date field, and the date hierarchy's datetime from a month or day beyond a C
    long too (OverflowError; it catches ValueError only)."""
    for key, values in request.GET.lists():
        found = _DATE_PART_LOOKUP.search(key)
        if found is None:
            continue
        name = found.group(1)
        allowed = _FILTER_DATE_PARTS[name]
        for value in values:
            for part in value.split(","):
                try:
                    number = int(part)
                except ValueError:
                    continue  # not a number: the changelist refuses it as a bad filter
                if number not in allowed:
                    return HttpResponseBadRequest(
                        f"A {name} in a filter must be between {allowed.start} and "
                        f"{allowed.stop - 1}.",
                        content_type="text/plain; charset=utf-8",
                    )
    return None


def _column_field(model: Any, key: str) -> Any:
    """The field whose column a filter `key` (`user`, `user__id__exact`, `attempts__in`)
    compares with, through relations to the field they point at; None if it names none."""
    field = None
    for name in key.split(LOOKUP_SEP):
        if model is None:
            break
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            break  # a lookup or a transform
        model = field.related_model if field.is_relation else None
    for _ in range(5):  # a relation to a relation (a one-to-one primary key)
        if field is None or not field.is_relation:
            break
        field = getattr(field, "target_field", None)
    return field


def _fits(field: Any, value: str) -> bool:
    """True if `value` is a value of `field` its column can hold (as the database compares it)."""
    try:
        value = field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    limits = connection.ops.integer_field_ranges.get(field.get_internal_type())
    return limits is None or limits[0] <= value <= limits[1]


def _admin_ids_refused(request: HttpRequest, view_func: Callable) -> HttpResponse | None:
    """Admin changelists: an action's selected id that is no id of the model (a word for a
    number, a number beyond the column) and a whole number in a filter beyond its column are a
    400. Django filters the selection and runs such a filter as given, and the query failed
    as a 500 (ValueError, ValidationError; OverflowError on SQLite), on every changelist."""
    model_admin = getattr(view_func, "model_admin", None)
    if model_admin is None or view_func.__name__ != "changelist_view":
        return None
    model = model_admin.model
    refused = HttpResponseBadRequest(
        "An id or a number in this request is not one this list can hold.",
        content_type="text/plain; charset=utf-8",
    )
    if request.method == "POST" and "action" in request.POST:
        pk = _column_field(model, model._meta.pk.name)
        if not all(_fits(pk, v) for v in request.POST.getlist(ACTION_CHECKBOX_NAME)):
            return refused
    for key, values in request.GET.lists():
        field = _column_field(model, key)
        if field is None or field.get_internal_type() not in connection.ops.integer_field_ranges:
            continue
        parts = [part for value in values for part in value.split(",")]
        if not all(_fits(field, part) for part in parts if _WHOLE_NUMBER.match(part)):
            return refused
    return None


_WHOLE_NUMBER = re.compile(r"^\s*[-+]?[0-9]+\s*$")

# Lookups that run a regular expression in the database: the admin builds none, a pattern's
# dialect differs by database (one valid here fails there), and SQLite runs Python's
# backtracking `re` on every row.
_PATTERN_LOOKUPS = frozenset({"regex", "iregex"})
# Lookups that become LIKE on SQLite, whose patterns stop at 50,000 bytes.
_LIKE_LOOKUPS = frozenset(
    {"iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"}
)
_JSON_CONTAINMENT_LOOKUPS = frozenset({"contains", "contained_by"})
# Longer than any column a search or a text filter compares with (e-mail addresses, names,
# references), and far within SQLite's LIKE limit and its limit of query parameters (a
# search becomes one LIKE per word and searched column).
ADMIN_SEARCH_MAX_CHARS = 1000


def _datetime_fits(field: Any, text: str) -> bool:
    """False if `text` is a datetime of `field` that cannot be stored: one whose offset puts it
    outside the years a datetime holds once in UTC (0001-01-01T00:00+14:00)."""
    try:
        value = field.to_python(text)
    except ValidationError:
        return True  # not a datetime: the changelist refuses it as a bad filter
    if value is None:
        return True
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        return False
    return True


def _admin_filters_refused(request: HttpRequest, view_func: Callable) -> HttpResponse | None:
    """Admin changelists: a filter or search the database would fail on as it runs the query
    is a 400: a regex lookup, a JSON containment lookup where the database has none (SQLite),
    a datetime its column cannot hold, a search term or text filter over
    ADMIN_SEARCH_MAX_CHARS. Django builds such a query without complaint and it failed as a
    500 (an invalid pattern; NotSupportedError; OverflowError; SQLite's LIKE pattern limit)."""
    model_admin = getattr(view_func, "model_admin", None)
    if model_admin is None or view_func.__name__ != "changelist_view":
        return None
    model = model_admin.model
    terms = request.GET.getlist(SEARCH_VAR)
    if request.method == "POST":
        terms += request.POST.getlist(SEARCH_VAR)  # a search posted (PrivateSearchMixin)
    if any(len(term) > ADMIN_SEARCH_MAX_CHARS for term in terms):
        return _bad_filter(f"A search is at most {ADMIN_SEARCH_MAX_CHARS} characters.")
    for key, values in request.GET.lists():
        parts = set(key.split(LOOKUP_SEP))
        if parts & _PATTERN_LOOKUPS:
            return _bad_filter("The admin's lists are not filtered by regular expression.")
        if parts & _LIKE_LOOKUPS and any(len(value) > ADMIN_SEARCH_MAX_CHARS for value in values):
            return _bad_filter(f"A text filter is at most {ADMIN_SEARCH_MAX_CHARS} characters.")
        field = _column_field(model, key)
        if field is None:
            continue
        kind = field.get_internal_type()
        if (
            kind == "JSONField"
            and parts & _JSON_CONTAINMENT_LOOKUPS
            and not connection.features.supports_json_field_contains
        ):
            return _bad_filter("This database cannot filter a JSON column by containment.")
        if kind == "DateTimeField" and not all(
            _datetime_fits(field, part) for value in values for part in value.split(",")
        ):
            return _bad_filter("A date and time in a filter must be between years 1 and 9999.")
    return None


def _bad_filter(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


class ApiErrorMiddleware:
    """Under /api/, an HTML error page from Django becomes the JSON error format."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(_API_PREFIXES) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        status = response.status_code
        code = _STATUS_CODES.get(status, "bad_request" if status < 500 else "internal_error")
        message = "Internal error." if status >= 500 else code.replace("_", " ").capitalize() + "."
        return json_error_response(code, message, status)

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict
    ) -> HttpResponse | None:
        """Refuse, before authentication or any database work, what no API view can serve:
        a method the view lacks (405, e.g. TRACE), a body over the view's limit by its
        Content-Length (413), a NUL character in the query string (400); on pages, also a
        year, month or day filter out of a datetime's range, an admin changelist's id or
        number its column cannot hold and a filter or search its database would fail on
        (400)."""
        view_class = getattr(view_func, "cls", None)  # set by DRF's APIView.as_view
        if view_class is None or not request.path.startswith(_API_PREFIXES):
            return (
                _unclean_form_refused(request)
                or _date_part_out_of_range_refused(request)
                or _admin_ids_refused(request, view_func)
                or _admin_filters_refused(request, view_func)
            )
        allowed = _allowed_methods(view_class)
        if request.method not in allowed:
            response = json_error_response(
                "method_not_allowed", f'Method "{request.method}" not allowed.', 405
            )
            response["Allow"] = ", ".join(allowed)
            return response
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error_response("bad_request", "Malformed Content-Length.", 400)
        if length > body_limit(view_class):
            return json_error_response("payload_too_large", "The request body is too large.", 413)
        if not _all_clean(request.GET):
            return json_error_response("invalid_text", INVALID_TEXT_MESSAGE, 400)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(_API_PREFIXES):
            return None
        if isinstance(exception, SuspiciousOperation):
            return json_error_response(*django_request_error(exception))
        if isinstance(exception, SERVICE_UNAVAILABLE):
            logger.error(
                "%s in %s request_id=%s: a service the hub depends on is unreachable",
                type(exception).__name__,
                request.path,
                getattr(request, "request_id", ""),
            )
            response = json_error_response(
                "service_unavailable",
                "A service the hub depends on is unavailable; try again shortly.",
                503,
            )
            response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
            return response
        # Log the type, the frames and the request id only: exception text may quote input.
        logger.error(
            "unhandled %s in %s request_id=%s\n%s",
            type(exception).__name__,
            request.path,
            getattr(request, "request_id", ""),
            "".join(traceback.format_tb(exception.__traceback__)),
        )
        return json_error_response("internal_error", "Internal error.", 500)


@functools.cache
def _allowed_methods(view_class: type) -> list[str]:
    """The methods a class-based view answers (HEAD wherever GET is), upper-cased."""
    names = [
        name
        for name in view_class.http_method_names
        if hasattr(view_class, name) or (name == "head" and hasattr(view_class, "get"))
    ]
    return [name.upper() for name in names]


class PageMessageMiddleware(MessageMiddleware):
    """Django's messages (the admin's "saved" notes) for pages only: an API request never shows
    one, and setting up their storage was a tenth of a decision request (Django's
    `process_response` already passes a request without them)."""

    def process_request(self, request: HttpRequest) -> None:
        if not request.path.startswith(_API_PREFIXES):
            super().process_request(request)
