"""The access matrix: every role × in-scope / out-of-scope subject × every API endpoint and admin
page that shows personal data. `render()` writes the table that docs/access.md carries."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

# Role -> regions of the staff member under test (None = all regions).
ROLES: dict[str, list[str] | None] = {
    "DPO": None,
    "Privacy officer": ["EU"],
    "Support agent": ["EU"],
    "Marketing analyst": None,
    "Auditor": None,
}
IN_REGION, OUT_REGION = "EU", "US-CA"


def _status(response) -> str | None:
    if response.status_code in (403, 404):
        return str(response.status_code)
    if response.status_code == 302:
        return "login"
    return None


def detail(client: Client, subject) -> str:
    r = client.get(f"/api/v1/profiles/subjects/{subject.pk}/")
    return _status(r) or ("masked" if r.json()["masked"] else "clear")


def events(client: Client, subject) -> str:
    r = client.get(f"/api/v1/profiles/subjects/{subject.pk}/events/")
    if _status(r):
        return _status(r)
    return "masked" if r.json()["results"][0]["payload"] is None else "clear"


def search(client: Client, subject) -> str:
    r = client.post(
        "/api/v1/profiles/subjects/search/",
        {"kind": "email", "value": subject.email},
        content_type="application/json",
    )
    return _status(r) or ("found" if r.json() else "not found")


def listing(client: Client, subject) -> str:
    r = client.get("/api/v1/profiles/subjects/?limit=1000")
    return _status(r) or ("listed" if str(subject.pk) in r.content.decode() else "not listed")


def audit_api(client: Client, subject) -> str:
    r = client.get(f"/api/v1/audit/events/?subject={subject.pk}")
    return _status(r) or ("listed" if r.json()["count"] else "not listed")


def audit_csv(client: Client, subject) -> str:
    r = client.get("/api/v1/audit/events.csv")
    if _status(r):
        return _status(r)
    return "listed" if str(subject.pk) in b"".join(r.streaming_content).decode() else "not listed"


def audience(client: Client, subject) -> str:
    from activation.models import Destination
    from consent.models import Purpose
    from profiles.models import System

    system, _ = System.objects.get_or_create(name="Matrix destination", kind="destination")
    destination, created = Destination.objects.get_or_create(system=system)
    if created:
        destination.purposes.set(Purpose.objects.filter(slug="essential"))
    r = client.get(f"/api/v1/destinations/{destination.pk}/audience/?limit=5000")
    return _status(r) or ("listed" if str(subject.pk) in r.content.decode() else "not listed")


def _rows(response) -> list:
    """The rows an admin changelist shows (not the echoed search box)."""
    return list(response.context["cl"].result_list)


def admin_changelist(client: Client, subject) -> str:
    r = client.get("/admin/profiles/subject/")
    return _status(r) or ("listed" if subject in _rows(r) else "not listed")


def _admin_search(client: Client, url: str, term: str):
    """Search as the changelist's form does: POST the term, follow to `?sid=`."""
    r = client.post(url, {"q": term, "_search": "1"})
    if r.status_code == 302 and "sid=" in r["Location"]:
        return client.get(r["Location"])
    return r


def admin_search(client: Client, subject) -> str:
    r = _admin_search(client, "/admin/profiles/subject/", subject.email)
    return _status(r) or ("found" if subject in _rows(r) else "not found")


def admin_change(client: Client, subject) -> str:
    r = client.get(f"/admin/profiles/subject/{subject.pk}/change/")
    return _status(r) or ("masked" if "Masked view" in r.content.decode() else "clear")


def admin_audit(client: Client, subject) -> str:
    r = _admin_search(client, "/admin/audit/auditevent/", str(subject.pk))
    if _status(r):
        return _status(r)
    return "listed" if any(e.subject_id == subject.pk for e in _rows(r)) else "not listed"


def decision(client: Client, subject) -> str:
    r = client.get(
        "/api/v1/consent/decision/", {"subject": str(subject.pk), "purpose": "analytics"}
    )
    return _status(r) or "decided"


def bulk_decision(client: Client, subject) -> str:
    r = client.post(
        "/api/v1/consent/decisions/bulk/",
        {"subjects": [str(subject.pk)], "purposes": ["analytics"]},
        content_type="application/json",
    )
    return _status(r) or ("decided" if str(subject.pk) in r.json()["decisions"] else "not found")


def history(client: Client, subject) -> str:
    r = client.get(f"/api/v1/consent/subjects/{subject.pk}/history/")
    return _status(r) or "listed"


def receipt(client: Client, subject) -> str:
    from consent.models import ConsentRecord

    record = ConsentRecord.objects.filter(subject=subject).first()
    r = client.get(f"/api/v1/consent/records/{record.pk}/receipt/")
    return _status(r) or "shown"


def dsar_listing(client: Client, subject) -> str:
    r = client.get("/api/v1/dsar/requests/?limit=1000")
    if _status(r):
        return _status(r)
    return "listed" if str(subject.request.pk) in r.content.decode() else "not listed"


def dsar_detail(client: Client, subject) -> str:
    r = client.get(f"/api/v1/dsar/requests/{subject.request.pk}/")
    return _status(r) or "shown"


def dsar_deny(client: Client, subject) -> str:
    r = client.post(
        f"/api/v1/dsar/requests/{subject.request.pk}/deny/",
        {"reason": "access matrix"},
        content_type="application/json",
    )
    return _status(r) or "denied"


def admin_requests(client: Client, subject) -> str:
    r = client.get("/admin/dsar/datasubjectrequest/")
    return _status(r) or ("listed" if subject.request in _rows(r) else "not listed")


def admin_request_change(client: Client, subject) -> str:
    r = client.get(f"/admin/dsar/datasubjectrequest/{subject.request.pk}/change/")
    return _status(r) or "shown"


def _csv(response) -> str | None:
    """The text of a CSV download, or None when the answer is a page (a form with an error,
    the changelist after an action that did nothing)."""
    if not response.get("Content-Type", "").startswith("text/csv"):
        return None
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode()


def _identifiers(text: str, subject) -> str:
    """Whether the subject is in an export, and with which identifiers."""
    import hashlib

    if str(subject.pk) not in text:
        return "not listed"
    if subject.email in text:
        return "clear"
    if hashlib.sha256(subject.email.encode()).hexdigest() in text:
        return "hashed"
    return "listed without identifiers"


def admin_purpose_export(client: Client, subject) -> str:
    """The per-purpose export (both subjects granted analytics): identifiers in clear are asked
    for first; when the form refuses them, the hashed form (what a marketing analyst gets)."""
    url = "/admin/activation/destination/export-purpose/"
    for identifiers in ("clear", "sha256"):
        r = client.post(url, {"purpose": "analytics", "identifiers": identifiers})
        if _status(r):
            return _status(r)
        text = _csv(r)
        if text is not None:
            return _identifiers(text, subject)
    return "no export"


def admin_audience_export(client: Client, subject) -> str:
    """The destination changelist's export action (a destination serving analytics, which both
    subjects granted; identifiers in clear, as the destination takes them)."""
    from activation.models import Destination
    from consent.models import Purpose
    from profiles.models import System

    system, _ = System.objects.get_or_create(name="Matrix export destination", kind="destination")
    destination, created = Destination.objects.get_or_create(
        system=system, defaults={"clear_identifiers": True}
    )
    if created:
        destination.purposes.set(Purpose.objects.filter(slug="analytics"))
    r = client.post(
        "/admin/activation/destination/",
        {"action": "export_audience", "_selected_action": [str(destination.pk)]},
    )
    if _status(r):
        return _status(r)
    text = _csv(r)
    return "no export" if text is None else _identifiers(text, subject)


def admin_audit_export(client: Client, subject) -> str:
    """The audit log's export action, the subject's events selected."""
    from audit.models import AuditEvent

    ids = AuditEvent.objects.filter(subject_id=subject.pk).values_list("pk", flat=True)
    r = client.post(
        "/admin/audit/auditevent/",
        {"action": "export_csv", "_selected_action": [str(pk) for pk in ids]},
    )
    if _status(r):
        return _status(r)
    text = _csv(r)
    return "listed" if text is not None and str(subject.pk) in text else "not listed"


# Endpoint -> (observer, {role: (outcome for an in-scope subject, for an out-of-scope subject)}).
# All-region roles have no out-of-scope subject: both columns show the same outcome.
M, C, N = "masked", "clear", "404"
MATRIX: dict[str, tuple[Callable, dict[str, tuple[str, str]]]] = {
    "GET /api/v1/destinations/{destination}/audience/": (
        audience,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "GET /api/v1/profiles/subjects/{id}/": (
        detail,
        {
            "DPO": (C, C),
            "Privacy officer": (C, N),
            "Support agent": (M, N),
            "Marketing analyst": (N, N),
            "Auditor": (M, M),
        },
    ),
    "GET /api/v1/profiles/subjects/{id}/events/": (
        events,
        {
            "DPO": (C, C),
            "Privacy officer": (C, N),
            "Support agent": (M, N),
            "Marketing analyst": (N, N),
            "Auditor": (M, M),
        },
    ),
    "POST /api/v1/profiles/subjects/search/": (
        search,
        {
            "DPO": ("found", "found"),
            "Privacy officer": ("found", "not found"),
            "Support agent": ("found", "not found"),
            "Marketing analyst": ("not found", "not found"),
            "Auditor": ("found", "found"),
        },
    ),
    "GET /api/v1/profiles/subjects/": (
        listing,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("listed", "not listed"),
            "Marketing analyst": ("not listed", "not listed"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "GET /api/v1/audit/events/?subject={id}": (
        audit_api,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "GET /api/v1/audit/events.csv": (
        audit_csv,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "GET /api/v1/consent/decision/?subject={id}&purpose=analytics": (
        decision,
        {
            "DPO": ("decided", "decided"),
            "Privacy officer": ("decided", "404"),
            "Support agent": ("decided", "404"),
            "Marketing analyst": ("decided", "decided"),
            "Auditor": ("decided", "decided"),
        },
    ),
    "POST /api/v1/consent/decisions/bulk/": (
        bulk_decision,
        {
            "DPO": ("decided", "decided"),
            "Privacy officer": ("decided", "not found"),
            "Support agent": ("decided", "not found"),
            "Marketing analyst": ("decided", "decided"),
            "Auditor": ("decided", "decided"),
        },
    ),
    "GET /api/v1/consent/subjects/{id}/history/": (
        history,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "404"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "GET /api/v1/consent/records/{record}/receipt/": (
        receipt,
        {
            "DPO": ("shown", "shown"),
            "Privacy officer": ("shown", "404"),
            "Support agent": ("404", "404"),
            "Marketing analyst": ("404", "404"),
            "Auditor": ("shown", "shown"),
        },
    ),
    "GET /api/v1/dsar/requests/": (
        dsar_listing,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("listed", "not listed"),
            "Marketing analyst": ("not listed", "not listed"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "GET /api/v1/dsar/requests/{request}/": (
        dsar_detail,
        {
            "DPO": ("shown", "shown"),
            "Privacy officer": ("shown", "404"),
            "Support agent": ("shown", "404"),
            "Marketing analyst": ("404", "404"),
            "Auditor": ("shown", "shown"),
        },
    ),
    "POST /api/v1/dsar/requests/{request}/deny/": (
        dsar_deny,
        {
            "DPO": ("denied", "denied"),
            "Privacy officer": ("denied", "404"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
        },
    ),
    "admin: subject changelist": (
        admin_changelist,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("listed", "not listed"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "admin: subject search by e-mail": (
        admin_search,
        {
            "DPO": ("found", "found"),
            "Privacy officer": ("found", "not found"),
            "Support agent": ("found", "not found"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("found", "found"),
        },
    ),
    "admin: subject change view": (
        admin_change,
        {
            "DPO": (C, C),
            "Privacy officer": (C, N),
            "Support agent": (M, N),
            "Marketing analyst": ("403", "403"),
            "Auditor": (M, M),
        },
    ),
    "admin: request changelist": (
        admin_requests,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("listed", "not listed"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "admin: request change view": (
        admin_request_change,
        {
            "DPO": ("shown", "shown"),
            "Privacy officer": ("shown", "404"),
            "Support agent": ("shown", "404"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("shown", "shown"),
        },
    ),
    "admin: audit log search by subject": (
        admin_audit,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "admin: audit event, action export_csv": (
        admin_audit_export,
        {
            "DPO": ("listed", "listed"),
            "Privacy officer": ("listed", "not listed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("listed", "listed"),
        },
    ),
    "admin: destination, export_purpose (CSV of the people a purpose allows)": (
        admin_purpose_export,
        {
            "DPO": (C, C),
            "Privacy officer": (C, "not listed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("hashed", "hashed"),
            "Auditor": ("403", "403"),
        },
    ),
    "admin: destination, action export_audience (CSV of its audience)": (
        admin_audience_export,
        {
            "DPO": (C, C),
            "Privacy officer": (C, "not listed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("no export", "no export"),
        },
    ),
}


def render() -> str:
    """The matrix as a Markdown table (in-scope / out-of-scope per role)."""
    roles = list(ROLES)
    head = (
        "| endpoint or page | "
        + " | ".join(f"{r} ({'all' if ROLES[r] is None else ', '.join(ROLES[r])})" for r in roles)
        + " |"
    )
    lines = [head, "|" + "---|" * (len(roles) + 1)]
    for endpoint, (_, expected) in MATRIX.items():
        cells = [f"{expected[r][0]} / {expected[r][1]}" for r in roles]
        lines.append(f"| `{endpoint}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- writes -------------------------------------------------------------------------------
# Every role (and a service account's EU token), a subject in or out of the caller's regions, and
# every write endpoint and admin action on personal data. Each cell runs in a savepoint that
# is rolled back, so cells do not see each other's writes. Cross-region rows send an EU record
# (or request) carrying the subject's e-mail: for the out-of-scope (US-CA) subject it must never
# be matched, written, merged or acted on, and nothing in the answer may tell that it exists.

SERVICE_ACCOUNT = "Service account (token)"
WRITE_ROLES: dict[str, list[str] | None] = {**ROLES, SERVICE_ACCOUNT: ["EU"]}


def _written(response) -> str | None:
    """403/404/login for a refused call, None when the call went through (an admin action or
    form answers with a redirect to its page when done)."""
    if response.status_code in (403, 404):
        return str(response.status_code)
    if response.status_code == 302 and "/login/" in response["Location"]:
        return "login"
    return None


def _upsert_outcome(response) -> str:
    if _written(response):
        return _written(response)
    body = response.json()
    outcome = "created" if body["created"] else "updated"
    return outcome + (" + review" if body["review_items"] else "")


def _record(subject, region: str) -> dict:
    return {
        "region": region,
        "identifiers": [{"kind": "email", "value": subject.email}],
        "attributes": {"city": "Matrixville"},
    }


def upsert(client: Client, subject) -> str:
    r = client.post(
        "/api/v1/profiles/subjects/upsert/",
        _record(subject, subject.region),
        content_type="application/json",
    )
    return _upsert_outcome(r)


def upsert_cross(client: Client, subject) -> str:
    r = client.post(
        "/api/v1/profiles/subjects/upsert/",
        _record(subject, IN_REGION),
        content_type="application/json",
    )
    return _upsert_outcome(r)


def batch(client: Client, subject) -> str:
    r = client.post(
        "/api/v1/profiles/subjects/batch/",
        {"idempotency_key": f"matrix-{subject.pk}", "records": [_record(subject, subject.region)]},
        content_type="application/json",
    )
    if _written(r):
        return _written(r)
    result = r.json()["results"][0]
    return result["error"]["code"] if "error" in result else _upsert_outcome_of(result)


def _upsert_outcome_of(result: dict) -> str:
    return ("created" if result["created"] else "updated") + (
        " + review" if result["review_items"] else ""
    )


def ndjson_import(client: Client, subject) -> str:
    import json

    from profiles.imports import import_job_run

    r = client.post(
        "/api/v1/profiles/imports/",
        (json.dumps(_record(subject, subject.region)) + "\n").encode(),
        content_type="application/x-ndjson",
    )
    if _written(r):
        return _written(r)
    job = import_job_run(job_id=r.json()["id"])
    if job.imported:
        return "imported"
    return job.errors.get().code


def consent_write(client: Client, subject) -> str:
    r = client.post(
        "/api/v1/consent/records/",
        {"subject": str(subject.pk), "purpose": "analytics", "state": "denied"},
        content_type="application/json",
    )
    return _written(r) or "recorded"


def _opened(client: Client, subject, region: str) -> str:
    from dsar.models import DataSubjectRequest
    from tests.dsar.helpers import drive

    r = client.post(
        "/api/v1/dsar/requests/",
        {"kind": "opt_out", "email": subject.email, "region": region},
        content_type="application/json",
    )
    if _written(r):
        return _written(r)
    request = drive(DataSubjectRequest.objects.get(reference=r.json()["reference"]))
    if request.subject_id is None:
        return "no subject found"
    return "acts on subject" if request.subject_id == subject.pk else "acts on another"


def dsar_open(client: Client, subject) -> str:
    return _opened(client, subject, subject.region)


def dsar_open_cross(client: Client, subject) -> str:
    return _opened(client, subject, IN_REGION)


def _erasure_request(subject):
    from audit.actors import Actor
    from dsar.services import request_create

    request, _ = request_create(
        kind="erasure",
        channel="api",
        actor=Actor.system("tests"),
        subject=subject,
        verification="service",
    )
    return request


def dsar_approve(client: Client, subject) -> str:
    request = _erasure_request(subject)
    r = client.post(
        f"/api/v1/dsar/requests/{request.pk}/approve/", {}, content_type="application/json"
    )
    return _written(r) or "approved"


def dsar_extend(client: Client, subject) -> str:
    request = _erasure_request(subject)
    r = client.post(
        f"/api/v1/dsar/requests/{request.pk}/extend/",
        {"reason": "access matrix"},
        content_type="application/json",
    )
    return _written(r) or "extended"


def unmask(client: Client, subject) -> str:
    r = client.post(
        "/api/v1/access/unmask/",
        {"subject": str(subject.pk), "reason": "access matrix check", "minutes": 5},
        content_type="application/json",
    )
    return _written(r) or "granted"


def _admin_action(client: Client, url: str, action: str, pk) -> object:
    return client.post(url, {"action": action, "_selected_action": [str(pk)], "confirmed": "yes"})


def admin_review_accept(client: Client, subject) -> str:
    from profiles.models import MatchReview, Subject
    from tests.factories import make_subject

    newcomer = make_subject(region=IN_REGION, email=f"newcomer-{subject.pk}@example.com")
    review = MatchReview.objects.create(subject=newcomer, candidate=subject, score=0.8)
    r = _admin_action(client, "/admin/profiles/matchreview/", "accept", review.pk)
    if _written(r):
        return _written(r)
    merged = Subject.objects.filter(pk__in=[newcomer.pk, subject.pk], status="merged").exists()
    return "merged" if merged else "not merged"


def admin_inbox_replay(client: Client, subject) -> str:
    from activation.models import InboxMessage, SourceEndpoint
    from profiles.models import System

    system, _ = System.objects.get_or_create(name="Matrix source", kind="source")
    endpoint, _ = SourceEndpoint.objects.get_or_create(system=system)
    message = InboxMessage(
        source=endpoint,
        message_id=f"m-{subject.pk}",
        kind="identify",
        region=subject.region,
        status="dead",
    )
    message.payload = {"type": "identify", "userId": "u"}
    message.save()
    r = _admin_action(client, "/admin/activation/inboxmessage/", "replay", message.pk)
    if _written(r):
        return _written(r)
    message.refresh_from_db()
    return "replayed" if message.status == "pending" else "not replayed"


def admin_hold_place(client: Client, subject) -> str:
    from dsar.models import LegalHold

    r = client.post(
        "/admin/dsar/legalhold/add/", {"subject": str(subject.pk), "reason": "access matrix"}
    )
    if _written(r):
        return _written(r)
    return "placed" if LegalHold.objects.filter(subject=subject).exists() else "not placed"


def admin_hold_release(client: Client, subject) -> str:
    from audit.actors import Actor
    from dsar.services import legal_hold_place

    hold = legal_hold_place(subject=subject, reason="access matrix", actor=Actor.system("tests"))
    r = _admin_action(client, "/admin/dsar/legalhold/", "release", hold.pk)
    if _written(r):
        return _written(r)
    hold.refresh_from_db()
    return "released" if hold.released_at else "not released"


def admin_intake(client: Client, subject) -> str:
    from dsar.models import DataSubjectRequest

    before = DataSubjectRequest.objects.filter(subject=subject).count()
    r = client.post(
        "/admin/dsar/datasubjectrequest/add/",
        {"kind": "access", "subject": subject.email, "attestation": "on"},
    )
    if _written(r):
        return _written(r)
    opened = DataSubjectRequest.objects.filter(subject=subject).count() > before
    return "opened" if opened else "not found"


def admin_decide(client: Client, subject) -> str:
    request = _erasure_request(subject)
    r = client.post(
        f"/admin/dsar/datasubjectrequest/{request.pk}/decide/",
        {"action": "approve", "text": "access matrix"},
    )
    if _written(r):
        return _written(r)
    request.refresh_from_db()
    return "approved" if request.approved_at else "not approved"


def admin_assign(client: Client, subject) -> str:
    request = _erasure_request(subject)
    r = _admin_action(client, "/admin/dsar/datasubjectrequest/", "assign_to_me", request.pk)
    if _written(r):
        return _written(r)
    request.refresh_from_db()
    return "assigned" if request.assigned_to_id else "not assigned"


def admin_lineage_split(client: Client, subject) -> str:
    from audit.actors import Actor
    from profiles.services import subjects_merge
    from tests.factories import make_subject

    newcomer = make_subject(region=IN_REGION, email=f"split-{subject.pk}@example.com")
    lineage = subjects_merge(
        survivor=subject,
        merged=newcomer,
        method="probabilistic",
        confidence=0.999,
        signals=[],
        actor=Actor.system("tests"),
    )
    r = _admin_action(client, "/admin/profiles/mergelineage/", "split", lineage.pk)
    if _written(r):
        return _written(r)
    lineage.refresh_from_db()
    return "split" if lineage.split_at else "not split"


def admin_review_reject(client: Client, subject) -> str:
    from profiles.models import MatchReview
    from tests.factories import make_subject

    newcomer = make_subject(region=IN_REGION, email=f"newcomer-{subject.pk}@example.com")
    review = MatchReview.objects.create(subject=newcomer, candidate=subject, score=0.8)
    r = _admin_action(client, "/admin/profiles/matchreview/", "reject", review.pk)
    if _written(r):
        return _written(r)
    review.refresh_from_db()
    return "rejected" if review.status == "rejected" else "not rejected"


def dsar_archive_link(client: Client, subject) -> str:
    from audit.actors import Actor
    from dsar import archive
    from dsar.services import request_create

    request, _ = request_create(
        kind="access",
        channel="api",
        actor=Actor.system("tests"),
        subject=subject,
        verification="service",
    )
    archive.archive_store(request=request, data=archive.collect(request))
    r = client.post(
        f"/api/v1/dsar/requests/{request.pk}/archive-link/", {}, content_type="application/json"
    )
    return _written(r) or "link issued"


def _failed_store_task(subject):
    from stores.models import ConnectedStore, StoreTask

    request = _erasure_request(subject)
    store, _ = ConnectedStore.objects.get_or_create(
        name="access matrix store", defaults={"dialect": "sqlite", "database": "matrix.sqlite3"}
    )
    return StoreTask.objects.create(
        request_id=request.pk,
        request_reference=request.reference,
        region=request.region,
        kind="erasure",
        store=store,
        status=StoreTask.Status.FAILED,
        last_error="store unreachable (OperationalError)",
    )


def admin_store_retry(client: Client, subject) -> str:
    task = _failed_store_task(subject)
    r = _admin_action(client, "/admin/stores/storetask/", "retry", task.pk)
    if _written(r):
        return _written(r)
    task.refresh_from_db()
    return "retried" if task.status != "failed" else "not retried"


def admin_store_except(client: Client, subject) -> str:
    task = _failed_store_task(subject)
    r = client.post(
        f"/admin/stores/storetask/{task.pk}/change/", {"exception_reason": "access matrix"}
    )
    if _written(r):
        return _written(r)
    task.refresh_from_db()
    return "closed" if task.status == "excepted" else "not closed"


def admin_retention_apply(client: Client, subject) -> str:
    """An officer applies a retention policy (every region) from the admin: the run acts only
    on the subjects of the officer's regions."""
    import datetime as dt

    from django.utils import timezone

    from consent.models import RetentionPolicy
    from profiles.models import Event

    expired = Event.objects.create(
        subject=subject,
        name="matrix.expired",
        payload={},
        occurred_at=timezone.now() - dt.timedelta(days=400),
    )
    policy = RetentionPolicy.objects.create(
        name=f"matrix {subject.pk}", target="events", event_name="matrix.expired", max_age_days=30
    )
    r = client.post("/admin/consent/retentionpolicy/apply/", {"policy": [str(policy.pk)]})
    if _written(r):
        return _written(r)
    return "kept" if Event.objects.filter(pk=expired.pk).exists() else "deleted"


def admin_model_re_estimate(client: Client, subject) -> str:
    """An officer re-estimates the match model from the admin: a new version from the data,
    then the pending reviews of the officer's regions (only) re-scored with it."""
    from profiles.models import MatchReview
    from tests.factories import make_match_population, make_subject

    make_match_population(24)
    newcomer = make_subject(
        region=subject.region, email=f"rescore-{subject.pk}@example.com", name="Matrix Persson"
    )
    MatchReview.objects.filter(subject=newcomer).delete()  # a pair of the officer's making only
    review = MatchReview.objects.create(subject=newcomer, candidate=subject, score=0.8)
    r = client.post("/admin/profiles/matchmodel/re-estimate/")
    if _written(r):
        return _written(r)
    after = MatchReview.objects.filter(pk=review.pk).first()
    untouched = after is not None and after.status == "pending" and after.model_version is None
    return "not re-scored" if untouched else "re-scored"


# Endpoint or admin action -> (observer, {role: (outcome in scope, outcome out of scope)}).
WRITE_MATRIX: dict[str, tuple[Callable, dict[str, tuple[str, str]]]] = {
    "POST /api/v1/profiles/subjects/upsert/": (
        upsert,
        {
            "DPO": ("updated", "updated"),
            "Privacy officer": ("updated", "403"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("updated", "403"),
        },
    ),
    "POST /api/v1/profiles/subjects/upsert/ (EU record, subject's e-mail)": (
        upsert_cross,
        {
            "DPO": ("updated", "created + review"),
            "Privacy officer": ("updated", "created"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("updated", "created"),
        },
    ),
    "POST /api/v1/profiles/subjects/batch/": (
        batch,
        {
            "DPO": ("updated", "updated"),
            "Privacy officer": ("updated", "region_not_allowed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("updated", "region_not_allowed"),
        },
    ),
    "POST /api/v1/profiles/imports/ (one line, run by the worker)": (
        ndjson_import,
        {
            "DPO": ("imported", "imported"),
            "Privacy officer": ("imported", "region_not_allowed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("imported", "region_not_allowed"),
        },
    ),
    "POST /api/v1/consent/records/": (
        consent_write,
        {
            "DPO": ("recorded", "recorded"),
            "Privacy officer": ("recorded", "404"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("recorded", "404"),
        },
    ),
    "POST /api/v1/dsar/requests/ (opt-out by e-mail)": (
        dsar_open,
        {
            "DPO": ("acts on subject", "acts on subject"),
            "Privacy officer": ("acts on subject", "403"),
            "Support agent": ("acts on subject", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("acts on subject", "403"),
        },
    ),
    "POST /api/v1/dsar/requests/ (EU opt-out, subject's e-mail)": (
        dsar_open_cross,
        {
            "DPO": ("acts on subject", "no subject found"),
            "Privacy officer": ("acts on subject", "no subject found"),
            "Support agent": ("acts on subject", "no subject found"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("acts on subject", "no subject found"),
        },
    ),
    "POST /api/v1/dsar/requests/{request}/approve/": (
        dsar_approve,
        {
            "DPO": ("approved", "approved"),
            "Privacy officer": ("approved", "404"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("approved", "404"),
        },
    ),
    "POST /api/v1/dsar/requests/{request}/extend/": (
        dsar_extend,
        {
            "DPO": ("extended", "extended"),
            "Privacy officer": ("extended", "404"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("extended", "404"),
        },
    ),
    "POST /api/v1/dsar/requests/{request}/archive-link/": (
        dsar_archive_link,
        {
            "DPO": ("link issued", "link issued"),
            "Privacy officer": ("link issued", "404"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("link issued", "404"),
        },
    ),
    "POST /api/v1/access/unmask/": (
        unmask,
        {
            "DPO": ("granted", "granted"),
            "Privacy officer": ("granted", "404"),
            "Support agent": ("403", "404"),
            "Marketing analyst": ("404", "404"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("403", "403"),
        },
    ),
    "admin: match review, action accept": (
        admin_review_accept,
        {
            "DPO": ("merged", "merged"),
            "Privacy officer": ("merged", "not merged"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("not merged", "not merged"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: match review, action reject": (
        admin_review_reject,
        {
            "DPO": ("rejected", "rejected"),
            "Privacy officer": ("rejected", "not rejected"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("not rejected", "not rejected"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: inbox message, action replay": (
        admin_inbox_replay,
        {
            "DPO": ("replayed", "replayed"),
            "Privacy officer": ("replayed", "not replayed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("not replayed", "not replayed"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: merge lineage, action split": (
        admin_lineage_split,
        {
            "DPO": ("split", "split"),
            "Privacy officer": ("split", "not split"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("not split", "not split"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: legal hold, add": (
        admin_hold_place,
        {
            "DPO": ("placed", "placed"),
            "Privacy officer": ("placed", "not placed"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: legal hold, action release": (
        admin_hold_release,
        {
            "DPO": ("released", "released"),
            "Privacy officer": ("released", "not released"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: data-subject request, add": (
        admin_intake,
        {
            "DPO": ("opened", "opened"),
            "Privacy officer": ("opened", "not found"),
            "Support agent": ("opened", "not found"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: data-subject request, decide": (
        admin_decide,
        {
            "DPO": ("approved", "approved"),
            "Privacy officer": ("approved", "404"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: data-subject request, action assign_to_me": (
        admin_assign,
        {
            "DPO": ("assigned", "assigned"),
            "Privacy officer": ("assigned", "not assigned"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: store task, action retry": (
        admin_store_retry,
        {
            "DPO": ("retried", "retried"),
            "Privacy officer": ("retried", "not retried"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("not retried", "not retried"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: retention policy, apply": (
        admin_retention_apply,
        {
            "DPO": ("deleted", "deleted"),
            "Privacy officer": ("deleted", "kept"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: match model, re_estimate": (
        admin_model_re_estimate,
        {
            "DPO": ("re-scored", "re-scored"),
            "Privacy officer": ("re-scored", "not re-scored"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
    "admin: store task, add": (
        admin_store_except,
        {
            "DPO": ("closed", "closed"),
            "Privacy officer": ("closed", "404"),
            "Support agent": ("403", "403"),
            "Marketing analyst": ("403", "403"),
            "Auditor": ("403", "403"),
            SERVICE_ACCOUNT: ("login", "login"),
        },
    ),
}


def render_writes() -> str:
    """The write matrix as a Markdown table (in-scope / out-of-scope per role)."""
    roles = list(WRITE_ROLES)
    head = (
        "| write endpoint or admin action | "
        + " | ".join(
            f"{r} ({'all' if WRITE_ROLES[r] is None else ', '.join(WRITE_ROLES[r])})" for r in roles
        )
        + " |"
    )
    lines = [head, "|" + "---|" * (len(roles) + 1)]
    for endpoint, (_, expected) in WRITE_MATRIX.items():
        cells = [f"{expected[r][0]} / {expected[r][1]}" for r in roles]
        lines.append(f"| `{endpoint}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
