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


# Endpoint -> (observer, {role: (outcome for an in-scope subject, for an out-of-scope subject)}).
# All-region roles have no out-of-scope subject: both columns show the same outcome.
M, C, N = "masked", "clear", "404"
MATRIX: dict[str, tuple[Callable, dict[str, tuple[str, str]]]] = {
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
