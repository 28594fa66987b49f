"""The subject page in the admin renders its golden record for its own viewer."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from access.roles import DPO, SUPPORT_AGENT
from profiles.models import Subject
from tests.factories import make_staff, make_subject

pytestmark = pytest.mark.django_db


def _page(user, subject):
    request = RequestFactory().get(f"/admin/profiles/subject/{subject.pk}/change/")
    request.user = user
    return admin.site._registry[Subject].change_view(request, str(subject.pk))


def test_an_agents_page_stays_masked_when_a_dpos_page_renders_meanwhile(roles, regimes):
    """The model admin is one object shared by every thread of the server: two pages rendered
    interleaved (the second opened before the first is rendered) each show their own viewer's
    view. It kept the last request on itself, so the agent's page showed the DPO's clear view."""
    agent, dpo = make_staff(SUPPORT_AGENT, regions=["EU"]), make_staff(DPO)
    agents_subject = make_subject(region="EU", email="agent.sees.masked@example.com")
    agents_page = _page(agent, agents_subject)
    dpos_page = _page(dpo, make_subject(region="US-CA", email="dpo.sees@example.com"))
    dpo_text = dpos_page.render().content.decode()
    agent_text = agents_page.render().content.decode()
    assert "Clear view" in dpo_text
    assert "Masked view" in agent_text
    assert "agent.sees.masked@example.com" not in agent_text
