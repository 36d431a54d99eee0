"""The OpenAPI schema generates, validates, declares JWT and shows the envelope."""

import json

import pytest
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_it_serves_a_valid_openapi_3_schema(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_it_declares_jwt_bearer_auth(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


@pytest.mark.urls("tests.api_urls")
def test_it_marks_authenticated_operations_with_jwt(client):
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    assert {"jwtAuth": []} in schema["paths"]["/api/v1/test/private"]["get"]["security"]


def test_it_shows_the_envelope_in_responses(schema):
    operation = schema["paths"]["/api/v1/client-errors/"]["post"]
    success = operation["responses"]["202"]["content"]["application/json"]["schema"]
    assert success["required"] == ["success", "data", "meta"]
    assert success["properties"]["data"]["$ref"].endswith("/ClientErrorAccepted")
    for status in ("400", "413", "429", "500"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorEnvelope"}
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert "VALIDATION_ERROR" in envelope["properties"]["error"]["properties"]["code"]["enum"]
    assert "x-envelope" not in json.dumps(schema)


def test_it_generates_the_schema_from_the_command_without_warnings(capsys):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


@pytest.mark.urls("tests.api_urls")
def test_it_documents_both_paginators_inside_the_envelope(client):
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    validate_schema(schema)
    components = schema["components"]["schemas"]
    keyset = schema["paths"]["/api/v1/test/keyset"]["get"]
    assert {p["name"] for p in keyset["parameters"]} == {"limit", "cursor"}
    ref = keyset["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    meta = components[ref]["properties"]["meta"]["properties"]["pagination"]
    assert set(meta["required"]) == {"limit", "has_more", "next_cursor", "previous_cursor"}
    pages = schema["paths"]["/api/v1/test/pages"]["get"]
    assert {p["name"] for p in pages["parameters"]} == {"page", "page_size"}


def test_it_serves_swagger_ui_and_redoc_from_our_own_host(client):
    for url in ("/api/docs/", "/api/redoc/"):
        html = client.get(url).content.decode()
        assert "/static/drf_spectacular_sidecar/" in html
        assert "https://" not in html.replace("https://github.com", "")


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.parametrize("urls", ["caly.urls", "tests.api_urls"])
def test_it_resolves_every_reference_on_every_generation(client, settings, urls):
    settings.ROOT_URLCONF = urls
    for _ in range(3):  # generation must not edit shared schema fragments in place
        schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
        validate_schema(schema)
        names = set(schema["components"]["schemas"])
        missing = {ref for ref in _refs(schema) if ref.rsplit("/", 1)[-1] not in names}
        assert missing == set()
