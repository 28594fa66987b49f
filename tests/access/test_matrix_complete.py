"""Every API endpoint is either in the access matrix or declared free of personal data, so a
new endpoint cannot ship without its row in docs/access.md."""

from django.urls import URLPattern, URLResolver, get_resolver

from tests.access.matrix import MATRIX

# Endpoints that show no personal data of subjects, or whose scoping is tested elsewhere.
NOT_PERSONAL = {
    "api/v1/access/me/": "the caller's own roles and scopes",
    "api/v1/access/tokens/": "token metadata; DPO only (tests/access/test_tokens.py)",
    "api/v1/access/tokens/<int:token_id>/revoke/": "token metadata; DPO only",
    "api/v1/access/unmask/": "creates a grant; scoped by subject_get (tests/access/test_unmask.py)",
    "api/v1/profiles/subjects/upsert/": "write-only; region-limited (tests/profiles/test_ingestion_api.py)",
    "api/v1/profiles/subjects/batch/": "write-only; region-limited",
    "api/v1/profiles/imports/": "write-only upload",
    "api/v1/profiles/imports/<uuid:job_id>/": "progress counters of the caller's own import",
    "api/v1/profiles/imports/<uuid:job_id>/errors/": "line numbers and reasons, never values",
    "api/v1/consent/records/": "write-only; subject scoped by subject_get",
    "api/v1/consent/tcf/decode/": "decodes a string the caller sends",
    "api/v1/consent/public/config/": "public banner API: a visitor's own choices by property key",
    "api/v1/consent/public/consents/": "public banner API: records a visitor's own choices",
    "api/v1/dsar/intake/": "public intake: answers the same whether or not data is held",
    "api/v1/dsar/intake/confirm/": "public: a reference and a code, never personal data",
    "api/v1/dsar/callbacks/<uuid:task_id>/": "signed by the connected system; returns a status",
    "api/v1/dsar/requests/<uuid:request_id>/approve/": "scoped like deny (tests/dsar/test_api.py)",
    "api/v1/dsar/requests/<uuid:request_id>/extend/": "scoped like deny (tests/dsar/test_api.py)",
    "api/v1/dsar/requests/<uuid:request_id>/archive-link/": "scoped like deny; audited",
}


def _routes(resolver: URLResolver, prefix: str = "") -> list[str]:
    routes = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            routes.append(route)
    return routes


def _matrix_routes() -> set[str]:
    covered = set()
    for endpoint in MATRIX:
        if endpoint.startswith(("GET ", "POST ")):
            path = endpoint.split(" ", 1)[1].split("?")[0].lstrip("/")
            covered.add(
                path.replace("{id}", "<uuid:subject_id>")
                .replace("{record}", "<uuid:record_id>")
                .replace("{request}", "<uuid:request_id>")
            )
    return covered


def test_every_api_endpoint_is_in_the_matrix_or_declared_non_personal():
    api_routes = {r for r in _routes(get_resolver()) if r.startswith("api/v1/")}
    missing = sorted(api_routes - _matrix_routes() - set(NOT_PERSONAL))
    assert missing == [], f"add these endpoints to tests/access/matrix.py: {missing}"
