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


def test_an_assigned_officer_outside_the_region_can_work_on_that_request_only(client):
    dpo = make_staff("DPO")
    americas = make_staff("Privacy officer", regions=["US-CA"])
    assigned = _request("EU")
    other = _request("EU")
    services.request_assign(request=assigned, user=americas, actor=Actor.system("dpo"))
    client.force_login(americas)
    assert client.get(f"/api/v1/dsar/requests/{assigned.pk}/").status_code == 200
    assert client.get(f"/api/v1/dsar/requests/{other.pk}/").status_code == 404
    r = client.post(
        f"/api/v1/dsar/requests/{assigned.pk}/approve/", {}, content_type="application/json"
    )
    assert r.status_code == 200
    assert dpo.pk != americas.pk


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
