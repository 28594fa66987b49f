"""Admin searches that keep the searched value out of URLs.

A changelist search is a GET with `?q=`: the e-mail address or phone number an officer looks
for lands in the web server's access log, the browser history and the Referer of every link on
the result page. Admins whose search takes personal data use `PrivateSearchMixin`: the search
box posts the term, the server keeps it in the cache under a random id for a short time
(CUSTODIA_ADMIN_SEARCH_SECONDS), bound to the officer's account, and redirects to
`?sid=<id>`; the changelist resolves the id. Pagination, filters and sorting carry the id,
never the value; an expired id asks for the search again."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR, ChangeList, ChangeListSearchForm
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from audit.actors import Actor
from audit.services import audit_record_list_read

SEARCH_ID_VAR = "sid"
SEARCH_FORM_MARKER = "_search"  # tells the search form's POST from the actions form's
_RESOLVED = "_admin_search_term"


def _cache_key(request: HttpRequest, search_id: str) -> str:
    return f"admin-search:{request.user.pk}:{search_id}"


def admin_search_store(request: HttpRequest, term: str) -> str:
    """Keep `term` for this officer under a new random id; returns the id."""
    search_id = secrets.token_urlsafe(12)
    cache.set(_cache_key(request, search_id), term, timeout=settings.CUSTODIA_ADMIN_SEARCH_SECONDS)
    return search_id


def admin_search_term(request: HttpRequest) -> str | None:
    """The term behind the request's `?sid=`: '' without one, None if it expired or belongs
    to another account. Each use keeps it alive for another period."""
    if not hasattr(request, _RESOLVED):
        search_id = request.GET.get(SEARCH_ID_VAR, "")
        term: str | None = ""
        if search_id:
            key = _cache_key(request, search_id)
            term = cache.get(key)
            if term is not None:
                cache.touch(key, settings.CUSTODIA_ADMIN_SEARCH_SECONDS)
        setattr(request, _RESOLVED, term)
    return getattr(request, _RESOLVED)


class PrivateSearchChangeList(ChangeList):
    """A changelist whose search term comes from the search id, and which ignores the id as a
    filter (its links keep `sid`, so paging and filtering keep the search)."""

    def __init__(self, request: HttpRequest, *args, **kwargs) -> None:
        term = admin_search_term(request) or ""

        # ChangeList reads its term from `search_form_class(request.GET)`: give it ours instead.
        def search_form(data: Any) -> ChangeListSearchForm:
            return ChangeListSearchForm({SEARCH_VAR: term})

        self.search_form_class = cast(type[forms.Form], search_form)
        super().__init__(request, *args, **kwargs)

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        lookup_params.pop(SEARCH_ID_VAR, None)
        return lookup_params


if TYPE_CHECKING:
    # The hooks this mixin uses (changelist_view, has_view_or_change_permission) are
    # ModelAdmin's: type it as one. At run time it stays a plain mixin, put before the admin.
    _AdminBase = ModelAdmin
else:
    _AdminBase = object


class PrivateSearchMixin(_AdminBase):
    """For ModelAdmins whose search takes personal data (e-mail, phone, name, identifiers):
    searches by POST and an opaque short-lived id, never `?q=` in a URL; each search shown is
    audited as a read (who looked for whom: the list, how many rows it found, never the term),
    whichever admin it is, so an admin made searchable by personal data is audited by its base
    class. `search_audit_fields`: what the term is matched against, as field names."""

    change_list_template = "admin/private_search_change_list.html"
    search_audit_fields: tuple[str, ...] = ("search",)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method == "POST" and SEARCH_FORM_MARKER in request.POST:
            return self._search_redirect(request, request.POST.get(SEARCH_VAR, ""))
        if SEARCH_VAR in request.GET:
            # Typed into the address bar or an old bookmark: keep it out of every further link.
            return self._search_redirect(request, request.GET[SEARCH_VAR])
        if SEARCH_ID_VAR in request.GET and admin_search_term(request) is None:
            messages.info(request, "That search has expired; please search again.")
            return self._search_redirect(request, "")
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if request.method == "GET" and changelist is not None and changelist.query.strip():
            self._search_audit(request, changelist.result_count)
        return response

    def _search_audit(self, request: HttpRequest, found: int) -> None:
        audit_record_list_read(
            actor=Actor.from_request(request),
            object_type=self.model._meta.label_lower,
            count=found,
            fields=self.search_audit_fields,
            reason="admin search",
        )

    def get_changelist(self, request: HttpRequest, **kwargs):
        return PrivateSearchChangeList

    def _search_redirect(self, request: HttpRequest, term: str) -> HttpResponseRedirect:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        params = request.GET.copy()
        for name in (SEARCH_VAR, SEARCH_ID_VAR, PAGE_VAR):
            params.pop(name, None)
        if term.strip():
            params[SEARCH_ID_VAR] = admin_search_store(request, term)
        query = params.urlencode()
        return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))
