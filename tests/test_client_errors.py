"""Browser error reports: accepted, logged with the request id, bounded in size and rate."""

import json
import logging

import pytest

from caly.foundation.http import client_ip

URL = "/api/v1/client-errors/"
REPORT = {
    "kind": "error",
    "message": "TypeError: x is undefined",
    "page_url": "http://127.0.0.1:8000/calls",
    "source": "http://127.0.0.1:8000/static/js/app.js",
    "line": 10,
    "column": 4,
    "stack": "at f (app.js:10:4)",
}


def post(client, payload, **extra):
    return client.post(URL, json.dumps(payload), content_type="application/json", **extra)


def test_it_accepts_and_logs_a_report_with_the_request_id(client, caplog):
    with caplog.at_level(logging.WARNING, logger="caly.client_errors"):
        response = post(client, REPORT, HTTP_X_REQUEST_ID="browser-report-01", HTTP_USER_AGENT="Test/1.0")
    assert response.status_code == 202
    assert json.loads(response.content)["data"] == {"received": True}
    [record] = [r for r in caplog.records if r.name == "caly.client_errors"]
    assert record.request_id == "browser-report-01" and "TypeError: x is undefined" in record.getMessage()
    assert record.source == REPORT["source"] and record.line == 10 and record.user_agent == "Test/1.0"


def test_it_needs_no_login_and_no_csrf_token(db):
    from django.test import Client

    response = post(Client(enforce_csrf_checks=True), {"kind": "unhandledrejection", "message": "nope"})
    assert response.status_code == 202


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"kind": "warning", "message": "x"},
        {"kind": "error", "message": ""},
        {"kind": "error", "message": "x" * 2001},
        {"kind": "error", "message": "x", "line": -1},
        {"kind": "error", "message": "x", "line": "ten"},
        [REPORT],
    ],
)
def test_it_rejects_an_invalid_report_with_400(client, payload):
    response = post(client, payload)
    assert response.status_code == 400 and json.loads(response.content)["error"]["code"] == "VALIDATION_ERROR"


def test_it_refuses_a_report_over_the_size_limit(client, settings):
    response = post(client, {**REPORT, "stack": "x" * settings.CLIENT_ERRORS_MAX_BYTES})
    assert response.status_code == 413 and json.loads(response.content)["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_it_rate_limits_reports_per_address(client, settings, stopped_clock):
    settings.CLIENT_ERRORS_RATE = "3/m"
    statuses = [post(client, REPORT).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    response = post(client, REPORT)
    assert json.loads(response.content)["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 60
    other = post(client, REPORT, REMOTE_ADDR="10.9.8.7")
    assert other.status_code == 202


def test_it_stores_nothing(client, django_assert_num_queries, db):
    with django_assert_num_queries(0):
        assert post(client, REPORT).status_code == 202


def test_it_takes_the_client_address_from_our_own_proxy_only(rf, settings):
    forged = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(forged) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(forged) == "203.0.113.9"  # the entry our load balancer appended
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")) == "10.0.0.2"


def test_it_rate_limits_by_forwarded_address_behind_a_proxy(client, settings, stopped_clock):
    settings.CLIENT_ERRORS_RATE = "2/m"
    settings.TRUSTED_PROXY_COUNT = 1
    first = [post(client, REPORT, HTTP_X_FORWARDED_FOR="203.0.113.1").status_code for _ in range(3)]
    second = post(client, REPORT, HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.2").status_code
    assert first == [202, 202, 429] and second == 202
