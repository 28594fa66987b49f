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


@pytest.mark.django_db
def test_an_unknown_region_is_echoed_bounded_in_the_error(client):
    """The region text came back whole: a megabyte query string answered with a megabyte."""
    from consent.models import ConsentProperty

    ConsentProperty.objects.create(
        name="Shop", publishable_key="pk_test_echo", allowed_origins=["https://shop.example"]
    )
    region = "ZZ" + "Q" * 5000
    response = client.get(
        "/api/v1/consent/public/config/",
        {"key": "pk_test_echo", "region": region},
        HTTP_ORIGIN="https://shop.example",
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unknown_region"
    assert error["message"].startswith("No jurisdiction covers region ZZQQQ")
    assert len(error["message"]) < 100


@pytest.mark.django_db
def test_a_choice_and_field_names_the_client_sent_are_echoed_bounded(client):
    """DRF repeats an invalid choice ('"…" is not a valid choice.') and names nested errors by
    the client's own keys: every message and field name of an error is bounded."""
    from consent.models import ConsentProperty

    ConsentProperty.objects.create(
        name="Shop", publishable_key="pk_test_echo", allowed_origins=["https://shop.example"]
    )
    response = client.post(
        "/api/v1/dsar/intake/",
        {"kind": "k" * 5000, "email": "a@example.com", "region": "EU"},
        content_type="application/json",
        HTTP_X_CUSTODIA_KEY="pk_test_echo",
    )
    assert response.status_code == 400
    assert len(response.content) < 1000
    (message,) = response.json()["error"]["fields"]["kind"]
    assert message.endswith("…")
