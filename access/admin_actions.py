"""Bulk admin actions that ask first: an intermediate page lists what will be affected and the
action runs only when the officer confirms (as Django's own "delete selected" does)."""

from __future__ import annotations

from django.contrib.admin import helpers
from django.http import HttpRequest
from django.template.response import TemplateResponse


def confirmed(
    modeladmin, request: HttpRequest, queryset, *, title: str, consequence: str
) -> TemplateResponse | None:
    """None once the officer confirmed (the action then runs); else the confirmation page."""
    if request.POST.get("confirmed") == "yes":
        return None
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "consequence": consequence,
        "objects": list(queryset[:200]),
        "count": queryset.count(),
        "opts": opts,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
    }
    return TemplateResponse(request, "admin/confirm_action.html", context)
