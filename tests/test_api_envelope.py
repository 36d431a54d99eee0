"""Every /api/ answer, success or failure, has the one envelope shape and a stable error code."""

import json
import logging

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.urls("tests.api_urls"), pytest.mark.django_db]


def envelope(response):
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert body["meta"]["request_id"] == response["X-Request-ID"]
    return body


def error_code(response):
    body = envelope(response)
    assert body["success"] is False and set(body) == {"success", "error", "meta"}
    return body["error"]["code"]


def test_it_wraps_a_success_in_the_envelope(api):
    body = envelope(api.get("/api/v1/test/open"))
    assert body == {"success": True, "data": {"hello": "world"}, "meta": {"request_id": body["meta"]["request_id"]}}


def test_it_answers_created_in_the_envelope(api):
    response = api.post("/api/v1/test/open", {"count": 2, "name": "x"}, format="json")
    assert response.status_code == 201 and envelope(response)["data"] == {"count": 2, "name": "x"}


def test_it_reports_validation_errors_per_field(api):
    response = api.post("/api/v1/test/open", {"count": 0}, format="json")
    body = envelope(response)
    assert response.status_code == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    assert set(body["error"]["details"]) == {"count", "name"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "MALFORMED_REQUEST"),
        (b'{"count": "\xff\xfe"}', "application/json", 400, "MALFORMED_REQUEST"),
        (b"count=1", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "MALFORMED_REQUEST"),
        (b"[1, 2]", "application/json", 400, "VALIDATION_ERROR"),
    ],
)
def test_it_rejects_bad_bodies_with_a_4xx(api, body, content_type, status, code):
    response = api.generic("POST", "/api/v1/test/open", body, content_type=content_type)
    assert (response.status_code, error_code(response)) == (status, code)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_it_refuses_an_oversized_body_with_413(api):
    response = api.generic(
        "POST", "/api/v1/test/open", json.dumps({"name": "x" * 5000}), content_type="application/json"
    )
    assert (response.status_code, error_code(response)) == (413, "PAYLOAD_TOO_LARGE")


def test_it_asks_for_credentials_with_401(api):
    response = api.get("/api/v1/test/private")
    assert (response.status_code, error_code(response)) == (401, "AUTHENTICATION_REQUIRED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_garbage_token_with_401(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    response = api.get("/api/v1/test/private")
    assert (response.status_code, error_code(response)) == (401, "TOKEN_INVALID")


def test_it_tells_an_expired_token_apart(api, alice):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(minutes=1))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.get("/api/v1/test/private")
    assert (response.status_code, error_code(response)) == (401, "TOKEN_EXPIRED")


def test_it_serves_an_authenticated_user(api, alice):
    api.force_authenticate(alice)
    assert envelope(api.get("/api/v1/test/private"))["data"] == {"email": "alice@acme.example"}


def test_it_maps_permission_denied_to_403(api):
    response = api.get("/api/v1/test/forbidden")
    assert (response.status_code, error_code(response)) == (403, "PERMISSION_DENIED")


def test_it_answers_throttling_with_retry_after(api):
    response = api.get("/api/v1/test/throttled")
    assert (response.status_code, error_code(response)) == (429, "RATE_LIMITED")
    assert response["Retry-After"] == "12"


def test_it_renders_a_typed_application_error(api):
    body = envelope(api.get("/api/v1/test/conflict"))
    assert body["error"] == {"code": "CONFLICT", "message": "That already exists.", "details": {"email": "taken"}}


def test_it_answers_405_with_allow(api):
    response = api.delete("/api/v1/test/open")
    assert (response.status_code, error_code(response)) == (405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"]


def test_it_answers_406_for_an_unavailable_format(api):
    response = api.get("/api/v1/test/open", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406 and error_code(response) == "NOT_ACCEPTABLE"


def test_it_answers_an_unknown_api_route_with_a_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert (response.status_code, error_code(response)) == (404, "NOT_FOUND")


def test_it_hides_an_unhandled_error_but_logs_it_with_the_request_id(api, caplog):
    with caplog.at_level(logging.ERROR):
        response = api.get("/api/v1/test/boom", HTTP_X_REQUEST_ID="req-boom-0001")
    body = envelope(response)
    assert response.status_code == 500
    assert body["error"] == {"code": "INTERNAL_ERROR", "message": body["error"]["message"]}
    assert "hunter2" not in response.content.decode() and "Traceback" not in response.content.decode()
    record = next(r for r in caplog.records if r.name == "caly.api")
    assert record.exc_info and record.request_id == "req-boom-0001"


def test_it_answers_a_plain_django_crash_under_api_with_the_envelope(client):
    client.raise_request_exception = False
    response = client.get("/api/v1/test/django-boom")
    assert (response.status_code, error_code(response)) == (500, "INTERNAL_ERROR")


def test_it_documents_every_error_code_with_a_status():
    from caly.foundation.api.errors import ERRORS
    from caly.foundation.errors import ErrorCode

    assert set(ERRORS) == set(ErrorCode)
    assert all(400 <= status < 600 for status, _ in ERRORS.values())


def test_it_answers_a_missing_trailing_slash_under_api_with_a_404_envelope(client):
    response = client.post("/api/v1/client-errors", "{}", content_type="application/json")
    assert (response.status_code, error_code(response)) == (404, "NOT_FOUND")


def test_it_still_redirects_pages_to_their_trailing_slash(client):
    response = client.get("/health")
    assert response.status_code == 301 and response["Location"] == "/health/"
