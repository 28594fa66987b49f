"""One JSON error format for the whole API, never an HTML page or a 500 for bad input."""

import pytest
from django.test import Client


@pytest.fixture
def client():
    return Client()


def test_unknown_api_path_answers_json_404(client):
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "error": {"code": "not_found", "message": "Not found.", "fields": {}}
    }


@pytest.mark.django_db
def test_unauthenticated_api_call_answers_json_401_or_403(client):
    response = client.get("/api/v1/audit/events/")
    assert response.status_code in (401, 403, 404)
    assert "error" in response.json()


def test_every_response_carries_a_request_id_and_echoes_a_well_formed_one(client):
    assert len(client.get("/api/v1/x/")["X-Request-ID"]) == 32
    echoed = client.get("/api/v1/x/", HTTP_X_REQUEST_ID="trace-12345678")
    assert echoed["X-Request-ID"] == "trace-12345678"
    rejected = client.get("/api/v1/x/", HTTP_X_REQUEST_ID="bad id with spaces <script>")
    assert rejected["X-Request-ID"] != "bad id with spaces <script>"


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
