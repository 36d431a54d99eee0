"""Request ids reach the response and every log line; logs are JSON in production and redact secrets."""

import json
import logging
import uuid

import pytest

from caly.foundation import context
from caly.foundation.logging import JsonFormatter, RedactingFilter, RequestContextFilter, TextFormatter


def test_it_makes_a_uuid_request_id_when_none_is_sent(client):
    response = client.get("/health/live")
    assert uuid.UUID(response["X-Request-ID"]).version == 4


def test_it_keeps_a_well_formed_inbound_request_id(client):
    response = client.get("/health/live", HTTP_X_REQUEST_ID="lb-7f3a:2026.11.25_abc")
    assert response["X-Request-ID"] == "lb-7f3a:2026.11.25_abc"


@pytest.mark.parametrize(
    "inbound",
    ["short", "x" * 129, "has space in it", "<script>alert(1)</script>", "line\r\nbreak-injected", "ünïcödé-request"],
)
def test_it_replaces_a_malformed_inbound_request_id(client, inbound):
    response = client.get("/health/live", HTTP_X_REQUEST_ID=inbound)
    assert response["X-Request-ID"] != inbound
    assert uuid.UUID(response["X-Request-ID"])


def _record(message="hello %s", args=("world",), **extra):
    record = logging.LogRecord("caly.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_it_writes_json_lines_with_the_request_context():
    token = context.activate(context.RequestContext(request_id="req-12345678", method="GET", path="/x", user_id=7))
    try:
        record = _record(status=200, duration_ms=1.5)
        RequestContextFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        context.deactivate(token)
    assert line["message"] == "hello world" and line["level"] == "INFO" and line["logger"] == "caly.test"
    assert line["request_id"] == "req-12345678" and line["method"] == "GET" and line["path"] == "/x"
    assert line["user_id"] == 7 and line["status"] == 200 and line["duration_ms"] == 1.5
    assert line["timestamp"].endswith("+00:00")


@pytest.mark.parametrize(
    "message",
    [
        "login with password=hunter2 failed",
        'payload {"password": "hunter2", "email": "a@b.c"}',
        "Authorization: Bearer eyJhbGciOi.hunter2.sig",
        "calling https://api.example/x?api_key=hunter2&x=1",
        "header Basic aHVudGVyMg== sent",
    ],
)
def test_it_redacts_secrets_in_messages(message):
    record = _record(message.replace("%", "%%"), ())
    RedactingFilter().filter(record)
    text = TextFormatter().format(record)
    assert "hunter2" not in text and "aHVudGVyMg" not in text and "[REDACTED]" in text


def test_it_redacts_secret_fields_and_headers():
    record = _record(
        headers={"Authorization": "Bearer abc.def", "X-Shopify-Access-Token": "shpat_1", "Accept": "json"},
        refresh_token="r1",
        form={"email": "a@b.c", "password": "p"},
    )
    RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["headers"] == {"Authorization": "[REDACTED]", "X-Shopify-Access-Token": "[REDACTED]", "Accept": "json"}
    assert line["refresh_token"] == "[REDACTED]"
    assert line["form"] == {"email": "a@b.c", "password": "[REDACTED]"}


def test_it_logs_one_access_line_per_request_with_its_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="caly.access"):
        response = client.get("/health/live", HTTP_X_REQUEST_ID="trace-00000042")
    [line] = [r for r in caplog.records if r.name == "caly.access"]
    assert line.request_id == response["X-Request-ID"] == "trace-00000042"
    assert line.status == 200 and line.method == "GET" and line.path == "/health/live" and line.duration_ms >= 0


def test_it_warns_about_slow_requests(client, caplog, settings, monkeypatch):
    from caly.foundation import middleware

    monkeypatch.setattr(middleware.AccessLogMiddleware, "__init__", _slow_threshold_zero)
    with caplog.at_level(logging.INFO, logger="caly.access"):
        client.get("/health/live")
    [line] = [r for r in caplog.records if r.name == "caly.access"]
    assert line.levelno == logging.WARNING and line.slow is True and line.route == "health/live"


def _slow_threshold_zero(self, get_response):
    self.get_response = get_response
    self.slow_ms = 0


def test_it_names_the_user_and_client_on_the_access_line(client, alice, caplog):
    client.force_login(alice)
    with caplog.at_level(logging.INFO, logger="caly.access"):
        client.get("/")
    [line] = [r for r in caplog.records if r.name == "caly.access"]
    assert line.user_id == alice.pk and line.client_id == alice.client_id


def test_it_does_not_load_the_user_just_to_log(client, alice, django_assert_num_queries):
    client.force_login(alice)  # loading the session and the user would take two queries
    with django_assert_num_queries(0):
        client.get("/health/live")


def test_it_chooses_json_logs_in_production_and_text_elsewhere(settings):
    from caly.foundation.logging import build_logging_config

    assert settings.LOGGING["formatters"]["default"]["()"] == "caly.foundation.logging.TextFormatter"
    assert (
        build_logging_config(fmt="json", level="INFO")["formatters"]["default"]["()"]
        == "caly.foundation.logging.JsonFormatter"
    )


def test_it_refuses_an_inbound_request_id_with_a_trailing_newline():
    assert context.clean_request_id("abcdefgh\n") != "abcdefgh\n"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/accounts/password/reset/eyJ1Ijo1fQ:1x:sig/", "/accounts/password/reset/[REDACTED]/"),
        ("/accounts/invitations/AbC-123_x/", "/accounts/invitations/[REDACTED]/"),
        ("/accounts/verify/tok.en/", "/accounts/verify/[REDACTED]/"),
        ("/accounts/verify/resend/", "/accounts/verify/resend/"),
        ("/calls/", "/calls/"),
    ],
)
def test_it_keeps_one_time_link_tokens_out_of_the_logs(client, caplog, db, path, logged):
    with caplog.at_level(logging.INFO, logger="caly.access"):
        client.get(path)
    [line] = [r for r in caplog.records if r.name == "caly.access"]
    assert line.path == logged and logged in line.getMessage()
