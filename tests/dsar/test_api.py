"""The DSAR API for staff and services: decisions are scoped like reads, callbacks must be
signed by the connected system."""

import json

import pytest

from audit.actors import Actor
from core import webhooks
from dsar import services
from dsar.models import SystemConnector, SystemTask
from profiles.models import System
from tests.factories import make_staff, make_subject

SYSTEM = Actor.system("tests")


def _request(region: str, kind: str = "erasure"):
    subject = make_subject(region=region)
    dsr, _ = services.request_create(
        kind=kind, channel="api", actor=SYSTEM, subject=subject, verification="service"
    )
    return dsr


@pytest.mark.parametrize("action", ["approve", "extend", "archive-link"])
def test_decisions_on_a_request_outside_the_officers_regions_answer_404(client, action):
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    dsr = _request("US-CA")
    r = client.post(
        f"/api/v1/dsar/requests/{dsr.pk}/{action}/",
        {"reason": "r"},
        content_type="application/json",
    )
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("action", ["approve", "extend", "archive-link"])
def test_decisions_are_refused_to_roles_that_cannot_manage_requests(client, action):
    client.force_login(make_staff("Auditor"))
    dsr = _request("EU")
    r = client.post(
        f"/api/v1/dsar/requests/{dsr.pk}/{action}/",
        {"reason": "r"},
        content_type="application/json",
    )
    assert r.status_code == 403


def test_archive_link_without_an_archive_is_a_clear_404(client):
    client.force_login(make_staff("DPO"))
    dsr = _request("EU", kind="access")
    r = client.post(f"/api/v1/dsar/requests/{dsr.pk}/archive-link/")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "no_archive"


def _task():
    dsr = _request("EU", kind="access")
    connector = SystemConnector.objects.create(
        system=System.objects.create(name="Helpdesk"), webhook_url="http://x", secret="s3cret"
    )
    return SystemTask.objects.create(request=dsr, connector=connector)


def test_a_callback_needs_the_systems_signature(api):
    task = _task()
    body = json.dumps({"status": "done", "evidence": "ticket 42"}).encode()
    r = api.post(
        f"/api/v1/dsar/callbacks/{task.pk}/",
        body,
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=webhooks.sign("wrong secret", body),
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_signature"
    task.refresh_from_db()
    assert task.status == "pending"


def test_a_signed_callback_completes_the_task_once(api):
    task = _task()
    body = json.dumps({"status": "done", "evidence": "ticket 42"}).encode()
    for _ in range(2):
        r = api.post(
            f"/api/v1/dsar/callbacks/{task.pk}/",
            body,
            content_type="application/json",
            HTTP_CUSTODIA_SIGNATURE=webhooks.sign("s3cret", body),
        )
        assert r.status_code == 200
    task.refresh_from_db()
    assert task.status == "done"
    assert task.evidence == "ticket 42"
    assert task.request.timeline.filter(kind="system").count() == 1


def test_a_manual_system_is_closed_by_an_officer_with_evidence(client):
    officer = make_staff("Privacy officer", regions=["EU"])
    task = _task()
    client.force_login(officer)
    url = f"/admin/dsar/datasubjectrequest/{task.request_id}/decide/"
    client.post(url, {"action": "task_done", "target": str(task.pk), "text": ""})
    task.refresh_from_db()
    assert task.status == "pending"  # evidence is required
    client.post(url, {"action": "task_done", "target": str(task.pk), "text": "deleted by hand"})
    task.refresh_from_db()
    assert task.status == "done"
    assert task.completed_by == officer.username


def test_the_request_page_shows_the_timeline_and_officers_notes_encrypted(client):
    officer = make_staff("Privacy officer", regions=["EU"])
    dsr = _request("EU")
    client.force_login(officer)
    url = f"/admin/dsar/datasubjectrequest/{dsr.pk}/"
    client.post(url + "decide/", {"action": "note", "text": "Caller confirmed by phone"})
    page = client.get(url + "change/").content.decode()
    assert "Caller confirmed by phone" in page
    assert "received through api" in page
    from dsar.models import TimelineEntry

    stored = TimelineEntry.objects.filter(kind="note").values_list("note", flat=True).get()
    assert "Caller" not in stored


def test_an_officer_outside_the_requests_region_cannot_be_assigned_it(client):
    """An assignment was a per-object grant to anyone: an EU request (and its subject) opened
    to a Californian officer. It is refused, and nothing is granted."""
    from core.errors import DomainError
    from dsar.models import RequestAssignment

    americas = make_staff("Privacy officer", regions=["US-CA"])
    dsr = _request("EU")
    with pytest.raises(DomainError) as refused:
        services.request_assign(request=dsr, user=americas, actor=SYSTEM)
    assert refused.value.code == "assignee_not_allowed"
    dsr.refresh_from_db(fields=["assigned_to"])
    assert dsr.assigned_to is None
    assert not RequestAssignment.objects.filter(user=americas).exists()
    client.force_login(americas)
    assert client.get(f"/api/v1/dsar/requests/{dsr.pk}/").status_code == 404


def test_staff_whose_role_cannot_manage_requests_cannot_be_assigned_one():
    from core.errors import DomainError

    dsr = _request("EU")
    for user in (make_staff("Auditor"), make_staff("Privacy officer", is_active=False)):
        with pytest.raises(DomainError) as refused:
            services.request_assign(request=dsr, user=user, actor=SYSTEM)
        assert refused.value.code == "assignee_not_allowed"


def _decide_assign(client, dsr, user):
    return client.post(
        f"/admin/dsar/datasubjectrequest/{dsr.pk}/decide/",
        {"action": "assign", "user": str(user.pk)},
        follow=True,
    )


def test_the_admin_refuses_to_assign_a_request_to_staff_who_may_not_handle_it(client):
    officer = make_staff("Privacy officer", regions=["EU"])
    americas = make_staff("Privacy officer", regions=["US-CA"])
    auditor = make_staff("Auditor")
    dsr = _request("EU")
    client.force_login(officer)
    for user in (americas, auditor):
        page = _decide_assign(client, dsr, user)
        assert page.status_code == 200
        errors = [str(m) for m in page.context["messages"] if m.level_tag == "error"]
        assert errors == [
            "This staff member cannot be assigned the request: their role cannot manage "
            "requests, or their regions do not include EU."
        ]
        dsr.refresh_from_db(fields=["assigned_to"])
        assert dsr.assigned_to is None
    colleague = make_staff("Privacy officer", regions=["EU", "BR"])
    page = _decide_assign(client, dsr, colleague)
    dsr.refresh_from_db(fields=["assigned_to"])
    assert dsr.assigned_to == colleague


def test_the_admin_offers_as_assignees_only_staff_who_may_handle_the_request(client):
    officer = make_staff("Privacy officer", regions=["EU"])
    colleague = make_staff("Privacy officer", regions=["EU", "BR"])
    dpo = make_staff("DPO")
    americas = make_staff("Privacy officer", regions=["US-CA"])
    auditor = make_staff("Auditor")
    gone = make_staff("Privacy officer", regions=["EU"], is_active=False)
    dsr = _request("EU")
    client.force_login(officer)
    page = client.get(f"/admin/dsar/datasubjectrequest/{dsr.pk}/change/")
    offered = {user.pk for user in page.context["officers"]}
    assert {officer.pk, colleague.pk, dpo.pk} <= offered
    assert not offered & {americas.pk, auditor.pk, gone.pk}


def test_assign_to_me_skips_requests_of_regions_the_officer_no_longer_covers(client):
    """A request they still see by an earlier assignment, after their regions shrank."""
    from access.models import RegionScope

    officer = make_staff("Privacy officer", regions=["EU", "US-CA"])
    kept, moved = _request("EU"), _request("US-CA")
    services.request_assign(request=moved, user=officer, actor=SYSTEM)
    RegionScope.objects.filter(user=officer).update(regions=["EU"])
    client.force_login(officer)
    form = {
        "action": "assign_to_me",
        "_selected_action": [str(kept.pk), str(moved.pk)],
        "confirmed": "yes",
    }
    page = client.post("/admin/dsar/datasubjectrequest/", form, follow=True)
    assert page.status_code == 200
    said = [str(m) for m in page.context["messages"]]
    assert "1 request(s) assigned to you." in said
    assert "1 request(s) not assigned: they are of regions you do not cover." in said
    kept.refresh_from_db(fields=["assigned_to"])
    assert kept.assigned_to == officer


def test_reminders_go_to_the_assigned_officer_once_a_day(settings):
    import datetime as dt

    from django.core import mail
    from django.utils import timezone

    from dsar.models import DataSubjectRequest

    officer = make_staff("Privacy officer", regions=["EU"], email="officer@example.org")
    dsr = _request("EU", kind="access")
    services.request_assign(request=dsr, user=officer, actor=SYSTEM)
    DataSubjectRequest.objects.filter(pk=dsr.pk).update(
        due_at=timezone.now() - dt.timedelta(hours=1)
    )
    assert services.deadline_reminders() == 1
    assert mail.outbox[-1].to == ["officer@example.org"]
    assert mail.outbox[-1].subject.startswith("[overdue]")
    assert services.deadline_reminders() == 0  # not again the same day


def test_bulk_assignment_asks_for_confirmation_first(client):
    officer = make_staff("Privacy officer", regions=["EU"])
    first, second = _request("EU"), _request("EU")
    client.force_login(officer)
    form = {"action": "assign_to_me", "_selected_action": [str(first.pk), str(second.pk)]}
    page = client.post("/admin/dsar/datasubjectrequest/", form)
    assert page.status_code == 200
    assert "Yes, assign the requests to me" in page.content.decode()
    first.refresh_from_db(fields=["assigned_to"])
    assert first.assigned_to is None
    client.post("/admin/dsar/datasubjectrequest/", {**form, "confirmed": "yes"})
    for dsr in (first, second):
        dsr.refresh_from_db(fields=["assigned_to"])
        assert dsr.assigned_to == officer


def test_a_system_that_never_calls_back_fails_after_five_orders_for_an_officer():
    import datetime as dt

    from django.utils import timezone

    from dsar import steps

    task = _task()
    SystemTask.objects.filter(pk=task.pk).update(
        status="sent", attempts=5, next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    task.refresh_from_db()
    steps.system_task_dispatch(task, task.request)
    task.refresh_from_db()
    assert task.status == "failed"
    assert task.last_error == "no callback"
    assert task.request.timeline.filter(message__contains="no callback").exists()


def test_a_callback_signature_that_is_not_ascii_is_a_401_not_a_500(api):
    import time

    task = _task()
    r = api.post(
        f"/api/v1/dsar/callbacks/{task.pk}/",
        json.dumps({"status": "done", "evidence": "ticket 42"}).encode(),
        content_type="application/json",
        HTTP_CUSTODIA_SIGNATURE=f"t={int(time.time())},v1=\u00e9\u00e9",
    )
    assert r.status_code == 401, r.content
    assert r.json()["error"]["code"] == "invalid_signature"
    task.refresh_from_db()
    assert task.status == "pending"


def test_a_signed_callback_replayed_to_another_task_of_the_same_system_is_refused(api):
    """The signature covers the timestamp and the body, not the task in the URL: a captured
    "done" callback of one task, replayed to another task of the same system within the
    freshness window, would close that task (an erasure never done, recorded as done)."""
    first = _task()
    second = SystemTask.objects.create(request=_request("EU"), connector=first.connector)
    body = json.dumps({"status": "done", "evidence": "ticket 42"}).encode()
    header = webhooks.sign("s3cret", body)

    def call(task):
        return api.post(
            f"/api/v1/dsar/callbacks/{task.pk}/",
            body,
            content_type="application/json",
            HTTP_CUSTODIA_SIGNATURE=header,
        )

    assert call(first).status_code == 200
    replayed = call(second)
    assert replayed.status_code == 401, replayed.content
    assert replayed.json()["error"]["code"] == "invalid_signature"
    second.refresh_from_db()
    assert second.status == "pending"
    assert call(first).status_code == 200  # a repeat to the same task is still ignored
