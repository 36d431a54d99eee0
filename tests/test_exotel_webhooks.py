"""Exotel's callbacks are received: verified, stored once, queued, acknowledged; anything else is refused
with the right 4xx and leaves no trace."""

import base64
import json
import logging
from urllib.parse import urlencode

import pytest
from django.db import OperationalError, connection

from caly.foundation.logging import RedactingFilter
from integrations.exotel.credentials import exotel_connection_save, exotel_webhook_token_rotate
from integrations.models import ExotelConnection, WebhookEvent, WebhookStatus
from recordings.models import Call
from tests.exotel_fake import (
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    form,
    json_body,
    multipart,
    passthru,
    status_callback,
)

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"


def post(client, connection, body, content_type=FORM, **extra):
    return client.post(callback_path(connection), body, content_type=content_type, **extra)


def get_passthru(client, connection, fields, **extra):
    return client.get(callback_path(connection, "passthru") + "?" + urlencode(fields), **extra)


def assert_refused(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == code
    assert body["meta"]["request_id"] == response["X-Request-ID"]
    assert WebhookEvent.objects.count() == 0 and Call.objects.count() == 0


@pytest.fixture
def unprocessed(monkeypatch):
    """Deliveries stay queued (the immediate backend would otherwise process them at commit)."""
    from integrations.exotel import processing

    monkeypatch.setattr(processing, "handle_event", lambda event: WebhookStatus.IGNORED)


# --- receiving ---------------------------------------------------------------------------------


def test_it_stores_a_form_callback_and_acknowledges_it(client, exotel_connection):
    body = form(status_callback())
    response = post(client, exotel_connection, body, HTTP_USER_AGENT="Exotel-Callback/1.0")

    assert response.status_code == 200
    assert response.json()["data"] == {"received": True, "duplicate": False}
    event = WebhookEvent.objects.get()
    assert (event.client, event.provider, event.topic) == (exotel_connection.client, "exotel", "status-callback")
    assert bytes(event.body) == body.encode() and event.content_type == FORM
    assert event.dedupe_key.startswith(f"{exotel_connection.client.public_id}:b6cfaf0a7d2a4ba9bd8e3e5a2e41c1a1:")
    assert event.headers["User-Agent"] == "Exotel-Callback/1.0"
    assert event.headers["X-Request-ID"] == response["X-Request-ID"]
    assert "Authorization" not in event.headers


@pytest.mark.parametrize("encoding", ["form", "multipart", "json"])
def test_it_accepts_every_encoding_exotel_uses_and_processes_it_into_a_call(
    client, exotel_connection, encoding, django_capture_on_commit_callbacks
):
    fields = status_callback(RecordingUrl="")
    body, content_type = {
        "form": (form(fields), FORM),
        "multipart": multipart(fields),
        "json": (json_body(fields), "application/json"),
    }[encoding]

    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, exotel_connection, body, content_type)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookStatus.PROCESSED
    call = Call.objects.get()
    assert (call.client, call.provider_call_id, call.status) == (
        exotel_connection.client,
        fields["CallSid"],
        "completed",
    )
    assert (call.from_number, call.to_number, call.duration_seconds) == ("+919812345678", "+918047112233", 261)


def test_a_repeated_delivery_is_acknowledged_and_stored_once(client, exotel_connection, unprocessed):
    body = form(status_callback())
    first = post(client, exotel_connection, body)
    second = post(client, exotel_connection, body)

    assert first.status_code == second.status_code == 200
    assert second.json()["data"] == {"received": True, "duplicate": True}
    assert WebhookEvent.objects.count() == 1


def test_another_status_of_the_same_call_is_another_event(client, exotel_connection, unprocessed):
    post(client, exotel_connection, form(status_callback(EventType="answered", Status="in-progress")))
    post(client, exotel_connection, form(status_callback()))

    assert WebhookEvent.objects.count() == 2


def test_passthru_is_a_get_answered_200_with_the_query_string_stored(client, exotel_connection, unprocessed):
    response = get_passthru(client, exotel_connection, passthru())

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.topic == "passthru" and bytes(event.body) == urlencode(passthru()).encode()
    assert get_passthru(client, exotel_connection, passthru()).status_code == 200  # a repeat: still 200
    assert WebhookEvent.objects.count() == 1


def test_passthru_does_not_accept_posts_nor_status_callbacks_gets(client, exotel_connection):
    response = client.post(callback_path(exotel_connection, "passthru"), form(passthru()), content_type=FORM)
    assert_refused(response, 405, "METHOD_NOT_ALLOWED")
    assert_refused(client.get(callback_path(exotel_connection)), 405, "METHOD_NOT_ALLOWED")


# --- who may deliver ---------------------------------------------------------------------------


def test_a_wrong_token_is_a_404(client, exotel_connection):
    path = callback_path(exotel_connection).replace(exotel_connection.webhook_token, "x" * 43)
    assert_refused(client.post(path, form(status_callback()), content_type=FORM), 404, "NOT_FOUND")


def test_an_unknown_connection_is_a_404(client, exotel_connection):
    path = callback_path(exotel_connection).replace(
        str(exotel_connection.public_id), "00000000-0000-4000-8000-000000000000"
    )
    assert_refused(client.post(path, form(status_callback()), content_type=FORM), 404, "NOT_FOUND")


def test_another_clients_token_opens_nothing(client, exotel_connection, client_b):
    other = ExotelConnection.objects.create(
        client=client_b, account_sid="bolt1", api_key="k", api_token="t", api_host="api.exotel.com"
    )
    # A's id with B's (valid) token, and the reverse.
    path = callback_path(exotel_connection).replace(exotel_connection.webhook_token, other.webhook_token)
    assert_refused(client.post(path, form(status_callback()), content_type=FORM), 404, "NOT_FOUND")
    path = callback_path(other).replace(other.webhook_token, exotel_connection.webhook_token)
    assert_refused(client.post(path, form(status_callback()), content_type=FORM), 404, "NOT_FOUND")


def test_a_deactivated_clients_callbacks_are_a_404(client, exotel_connection):
    exotel_connection.client.is_active = False
    exotel_connection.client.save()
    assert_refused(post(client, exotel_connection, form(status_callback())), 404, "NOT_FOUND")
    assert_refused(get_passthru(client, exotel_connection, passthru()), 404, "NOT_FOUND")


def test_a_rotated_token_stops_the_old_urls_at_once(client, exotel_connection):
    old_path = callback_path(exotel_connection)
    exotel_webhook_token_rotate(connection=exotel_connection, actor=None)

    assert_refused(client.post(old_path, form(status_callback()), content_type=FORM), 404, "NOT_FOUND")


def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def with_credentials(exotel_connection):
    return exotel_connection_save(
        client=exotel_connection.client,
        actor=None,
        callback_username="exotel-callbacks",
        callback_password="s3cret-callback-pass",
    )


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "AUTHENTICATION_REQUIRED"),
        ("Bearer abc", "AUTHENTICATION_REQUIRED"),
        (basic("exotel-callbacks", "wrong"), "TOKEN_INVALID"),
        (basic("someone", "s3cret-callback-pass"), "TOKEN_INVALID"),
        ("Basic not-base64!", "TOKEN_INVALID"),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "TOKEN_INVALID"),
    ],
)
def test_basic_credentials_when_set_are_required(client, with_credentials, authorization, code):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = post(client, with_credentials, form(status_callback()), **extra)

    assert_refused(response, 401, code)
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_the_right_basic_credentials_are_let_in(client, with_credentials, unprocessed):
    response = post(
        client,
        with_credentials,
        form(status_callback()),
        HTTP_AUTHORIZATION=basic("exotel-callbacks", "s3cret-callback-pass"),
    )
    assert response.status_code == 200 and WebhookEvent.objects.count() == 1
    passthru_response = get_passthru(
        client, with_credentials, passthru(), HTTP_AUTHORIZATION=basic("exotel-callbacks", "s3cret-callback-pass")
    )
    assert passthru_response.status_code == 200


# --- what may be delivered ---------------------------------------------------------------------


def test_an_oversized_body_is_a_413(client, exotel_connection, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = form(status_callback(CustomField="x" * 5000))
    assert_refused(post(client, exotel_connection, body), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"CallSid": "abc", ', "application/json"),
        (b'["CallSid"]', "application/json"),
        (b'{"CallSid": "\xff\xfe"}', "application/json"),
        (b"CallSid=abc&Status=\xff\xfe", FORM),
        (b"CallSid=abc&Status=%FF%FE", FORM),
        (
            b'--B\r\nContent-Disposition: form-data; name="CallSid"\r\n\r\n\xff\r\n--B--\r\n',
            "multipart/form-data; boundary=B",
        ),
        (b"no boundary here", "multipart/form-data"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ],
    ids=[
        "json-cut",
        "json-array",
        "json-utf8",
        "form-utf8",
        "form-percent-utf8",
        "multipart-utf8",
        "multipart-broken",
        "json-deep",
    ],
)
def test_a_malformed_body_is_a_400(client, exotel_connection, settings, body, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000
    assert_refused(post(client, exotel_connection, body, content_type), 400, "MALFORMED_REQUEST")


def test_an_unknown_content_type_is_a_415(client, exotel_connection):
    assert_refused(post(client, exotel_connection, "<xml/>", "application/xml"), 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("call_sid", [None, "", "abc/../../x", "a" * 101, "abc def"])
def test_a_missing_or_strange_call_sid_is_a_400(client, exotel_connection, call_sid):
    response = post(client, exotel_connection, form(status_callback(CallSid=call_sid)))
    assert_refused(response, 400, "VALIDATION_ERROR")
    assert "CallSid" in response.json()["error"]["details"]
    assert_refused(get_passthru(client, exotel_connection, passthru(CallSid=call_sid)), 400, "VALIDATION_ERROR")


def test_a_passthru_query_string_that_is_not_utf8_is_a_400(client, exotel_connection):
    response = client.get(callback_path(exotel_connection, "passthru") + "?CallSid=abc&digits=%FF")
    assert_refused(response, 400, "MALFORMED_REQUEST")


# --- limits and outages ------------------------------------------------------------------------


def test_each_connection_and_endpoint_has_its_own_rate_limit(
    client, exotel_connection, client_b, settings, unprocessed, stopped_clock
):
    settings.RATE_LIMIT_WEBHOOK = "3/m"
    other = ExotelConnection.objects.create(
        client=client_b, account_sid="bolt1", api_key="k", api_token="t", api_host="api.exotel.com"
    )
    bad_token = callback_path(exotel_connection).replace(exotel_connection.webhook_token, "y" * 43)
    for _ in range(5):  # refused deliveries do not use up the client's allowance
        client.post(bad_token, form(status_callback()), content_type=FORM)
    for n in range(3):
        assert post(client, exotel_connection, form(status_callback(CallSid=f"call{n}"))).status_code == 200

    response = post(client, exotel_connection, form(status_callback(CallSid="call9")))

    assert response.status_code == 429 and response.json()["error"]["code"] == "RATE_LIMITED"
    assert int(response["Retry-After"]) >= 1
    assert WebhookEvent.objects.count() == 3
    assert post(client, other, form(status_callback(CallSid="call9"))).status_code == 200
    assert get_passthru(client, exotel_connection, passthru()).status_code == 200


def database_down(execute, sql, params, many, context):
    raise OperationalError("could not connect to server: Connection refused")


def test_a_callback_while_the_database_is_down_is_a_503_not_a_200(client, exotel_connection):
    with connection.execute_wrapper(database_down):
        response = post(client, exotel_connection, form(status_callback()))

    assert response.status_code == 503 and response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert response["Retry-After"]
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_database_lost_while_storing_answers_503_and_keeps_nothing(client, exotel_connection):
    def inserts_fail(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT"):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(inserts_fail):
        response = post(client, exotel_connection, form(status_callback()))
        passthru_response = get_passthru(client, exotel_connection, passthru())

    assert response.status_code == passthru_response.status_code == 503
    assert WebhookEvent.objects.count() == 0 and Call.objects.count() == 0


# --- secrets -----------------------------------------------------------------------------------


def test_the_callback_token_and_credentials_stay_out_of_the_logs(client, with_credentials, caplog):
    caplog.handler.addFilter(RedactingFilter())  # what the configured handlers apply before writing
    token = with_credentials.webhook_token
    with caplog.at_level(logging.DEBUG):
        post(client, with_credentials, form(status_callback()), HTTP_AUTHORIZATION=basic("exotel-callbacks", "nope"))
        post(
            client,
            with_credentials,
            form(status_callback()),
            HTTP_AUTHORIZATION=basic("exotel-callbacks", "s3cret-callback-pass"),
        )
        with connection.execute_wrapper(database_down):
            assert post(client, with_credentials, form(status_callback())).status_code == 503

    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    assert "caly.access" in logged and "[REDACTED]" in logged
    assert token not in logged and "s3cret-callback-pass" not in logged
    assert json.dumps(str(with_credentials.public_id))[1:-1] in logged  # the route is still identifiable


def test_a_webhook_event_never_keeps_the_authorization_header(client, with_credentials, unprocessed):
    post(
        client,
        with_credentials,
        form(status_callback()),
        HTTP_AUTHORIZATION=basic("exotel-callbacks", "s3cret-callback-pass"),
    )
    event = WebhookEvent.objects.get()
    assert "s3cret" not in json.dumps(event.headers) and "Authorization" not in event.headers


# --- the schema --------------------------------------------------------------------------------


def test_the_callbacks_are_documented_without_credentials(client):
    schema = json.loads(client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    base = "/api/v1/webhooks/exotel/{public_id}/{token}"
    status_callback_op = schema["paths"][f"{base}/status-callback"]["post"]
    assert set(status_callback_op["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    assert status_callback_op.get("security") in (None, [], [{}])
    assert {"200", "401", "404", "413", "429"} <= set(status_callback_op["responses"])
    passthru_op = schema["paths"][f"{base}/passthru"]["get"]
    assert {"CallSid", "CallType", "digits"} <= {p["name"] for p in passthru_op["parameters"]}
