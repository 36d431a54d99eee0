"""Placing outbound calls (POST /api/v1/calls) through Exotel's connect API, checking the credentials,
and the callback URLs the integrations page shows."""

import json
import logging
import socket

import pytest

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from integrations.exotel.services import exotel_callback_urls, exotel_connection_check
from integrations.models import CheckStatus, ExotelConnection
from recordings.models import Call
from tests.exotel_fake import (
    ACCOUNT_SID,
    API_TOKEN,
    EXOPHONE,
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
CONNECT = f"/v1/Accounts/{ACCOUNT_SID}/Calls/connect.json"
AGENT_PHONE = "+919900011122"
CUSTOMER = "+919812345678"


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


def place(api, **body):
    return api.post("/api/v1/calls", {"to": CUSTOMER, "from": AGENT_PHONE, **body}, format="json")


def test_an_agent_places_a_call_and_gets_the_queued_call(as_user, bob, exotel, exotel_connection):
    response = place(as_user(bob), custom_field="order-1042")

    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    call = Call.objects.get()
    assert data["id"] == str(call.public_id) and data["status"] == "queued" and data["direction"] == "outbound"
    assert (data["from_number"], data["to_number"]) == (AGENT_PHONE, CUSTOMER)
    assert data["provider_call_id"] == call.provider_call_id and call.provider_call_id.startswith("fakecall")
    assert call.metadata == {"caller_id": EXOPHONE, "placed_by": str(bob.public_id), "custom_field": "order-1042"}

    [request] = exotel.seen(CONNECT)
    assert request.method == "POST"
    assert request.form == {
        "From": AGENT_PHONE,
        "To": CUSTOMER,
        "CallerId": EXOPHONE,
        "Record": "true",
        "StatusCallback": exotel_callback_urls(connection=exotel_connection)["status_callback"],
        "StatusCallbackEvents[0]": "terminal",
        "StatusCallbackEvents[1]": "answered",
        "StatusCallbackContentType": "application/json",
        "CustomField": "order-1042",
    }
    event = AuditEvent.objects.get(action=AuditAction.CALL_PLACED)
    assert (event.actor, event.client, event.target_id) == (bob, bob.client, str(call.public_id))
    assert event.metadata == {"to": CUSTOMER, "from": AGENT_PHONE, "caller_id": EXOPHONE, "record": True}


def test_the_caller_id_and_recording_can_be_chosen(as_user, bob, exotel, exotel_connection):
    response = place(as_user(bob), caller_id="+918047119999", record=False)

    assert response.status_code == 201
    [request] = exotel.seen(CONNECT)
    assert (request.form["CallerId"], request.form["Record"]) == ("+918047119999", "false")
    assert "CustomField" not in request.form


def test_the_placed_call_follows_exotels_callbacks(
    as_user, bob, client, exotel, exotel_connection, django_capture_on_commit_callbacks
):
    call_id = place(as_user(bob)).json()["data"]["id"]
    call = Call.objects.get()
    callback = {
        "CallSid": call.provider_call_id,
        "EventType": "answered",
        "Status": "in-progress",
        "DateUpdated": "2026-11-20 15:00:09",
        "From": "09900011122",
        "To": "09812345678",
        "Direction": "outbound-api",
        "StartTime": "2026-11-20 15:00:00",
        "RecordingUrl": None,
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(callback_path(exotel_connection), json.dumps(callback), content_type="application/json")
    assert as_user(bob).get(f"/api/v1/calls/{call_id}").json()["data"]["status"] == "in-progress"

    url = exotel.add_recording("outbound.mp3")
    callback |= {"EventType": "terminal", "Status": "completed", "EndTime": "2026-11-20 15:02:09"}
    callback |= {"ConversationDuration": 120, "RecordingUrl": url, "DateUpdated": "2026-11-20 15:02:10"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(callback_path(exotel_connection), json.dumps(callback), content_type="application/json")

    data = as_user(bob).get(f"/api/v1/calls/{call_id}").json()["data"]
    assert (data["status"], data["duration_seconds"], data["has_recording"]) == ("completed", 120, True)
    assert data["recordings"][0]["status"] == "stored"
    assert Call.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "9812345678"}, "to"),
        ({"to": ""}, "to"),
        ({"from": "+91 99000 11122"}, "from"),
        ({"from": None}, "from"),
        ({"to": AGENT_PHONE}, "to"),
        ({"caller_id": "08047112233"}, "caller_id"),
        ({"caller_id": "+918000000000"}, "caller_id"),  # not one of the connection's
        ({"custom_field": "x" * 129}, "custom_field"),
        ({"record": "perhaps"}, "record"),
    ],
)
def test_bad_input_is_a_400_and_nothing_is_dialled(as_user, bob, exotel, exotel_connection, body, field):
    response = place(as_user(bob), **body)

    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in response.json()["error"]["details"]
    assert exotel.requests == [] and not Call.objects.exists() and not AuditEvent.objects.exists()


def test_a_body_that_is_not_json_is_a_400(as_user, bob, exotel_connection):
    response = as_user(bob).generic("POST", "/api/v1/calls", b"{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "MALFORMED_REQUEST"


def test_without_an_exotel_connection_it_is_a_409(as_user, bob):
    response = place(as_user(bob))

    assert response.status_code == 409 and response.json()["error"]["code"] == "CONFLICT"
    assert "Exotel is not connected" in response.json()["error"]["message"]
    assert not Call.objects.exists()


def test_a_connection_without_caller_ids_is_a_409(as_user, bob, exotel, exotel_connection):
    ExotelConnection.objects.filter(pk=exotel_connection.pk).update(caller_ids=[])
    response = place(as_user(bob))
    assert response.status_code == 409 and "caller ids" in response.json()["error"]["message"]
    assert exotel.requests == []


@pytest.mark.parametrize(
    ("failure", "status", "code", "message"),
    [
        (500, 503, "SERVICE_UNAVAILABLE", "HTTP 500"),
        ((429, {"Retry-After": "20"}), 503, "SERVICE_UNAVAILABLE", "rate-limiting"),
        ("stall", 503, "SERVICE_UNAVAILABLE", "did not answer in time"),
        (401, 502, "PROVIDER_ERROR", "refused the API key and token"),
        (400, 502, "PROVIDER_ERROR", "Scripted 400"),
    ],
    ids=["500", "429", "timeout", "401", "400"],
)
def test_exotel_failures_are_clear_and_leave_no_call(
    as_user, bob, exotel, exotel_connection, failure, status, code, message
):
    exotel.script(CONNECT, failure)
    response = place(as_user(bob))

    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code and message in response.json()["error"]["message"]
    if status == 503:
        assert int(response["Retry-After"]) >= 1
    assert not Call.objects.exists() and not AuditEvent.objects.exists()


def test_a_viewer_may_not_place_calls(as_user, client_a, exotel, exotel_connection):
    viewer = UserFactory(email="vera@acme.example", client=client_a, role=Role.VIEWER)
    response = place(as_user(viewer))

    assert response.status_code == 403 and response.json()["error"]["code"] == "PERMISSION_DENIED"
    assert exotel.requests == []
    assert as_user(viewer).get("/api/v1/calls").status_code == 200  # the list stays readable


def test_calls_go_through_the_callers_own_clients_connection(as_user, charlie, exotel, exotel_connection):
    response = place(as_user(charlie))  # client B has no Exotel connection; A's is not borrowed

    assert response.status_code == 409
    assert exotel.requests == [] and not Call.objects.exists()


def test_a_placed_call_is_invisible_to_other_clients(as_user, bob, charlie, exotel, exotel_connection):
    call_id = place(as_user(bob)).json()["data"]["id"]

    assert as_user(charlie).get(f"/api/v1/calls/{call_id}").status_code == 404
    assert as_user(charlie).get("/api/v1/calls").json()["data"] == []


def test_placing_calls_is_rate_limited_per_user(
    as_user, bob, alice, exotel, exotel_connection, monkeypatch, stopped_clock
):
    from recordings.api import views

    monkeypatch.setattr(views, "PLACE_CALL_RATE", "2/m")
    assert place(as_user(bob)).status_code == 201
    assert place(as_user(bob)).status_code == 201
    refused = place(as_user(bob))

    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert place(as_user(alice)).status_code == 201
    assert len(exotel.seen(CONNECT)) == 3


def test_no_secret_reaches_the_answer_or_the_logs(as_user, bob, exotel, exotel_connection, caplog):
    from caly.foundation.logging import RedactingFilter

    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.DEBUG):
        response = place(as_user(bob))
        exotel.script(CONNECT, 401)
        refused = place(as_user(bob))

    text = response.content.decode() + refused.content.decode()
    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    for secret in (API_TOKEN, exotel_connection.webhook_token):
        assert secret not in text and secret not in logged


# --- checking the connection -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "ok", "message"),
    [
        (None, True, "Exotel accepted the credentials."),
        (401, False, "Exotel refused the API key and token."),
        (403, False, "Exotel refused the API key and token."),
        (404, False, f"Exotel has no account with the SID {ACCOUNT_SID}."),
        (500, False, "Exotel answered HTTP 500."),
        ("stall", False, "Exotel did not answer in time."),
    ],
)
def test_the_credentials_check_says_what_is_wrong_and_is_kept(exotel, exotel_connection, failure, ok, message):
    if failure is not None:
        exotel.script(f"/v1/Accounts/{ACCOUNT_SID}/Calls.json", failure)

    result = exotel_connection_check(connection=exotel_connection)

    assert result.ok is ok and result.message.startswith(message)
    exotel_connection.refresh_from_db()
    assert exotel_connection.check_status == (CheckStatus.OK if ok else CheckStatus.FAILED)
    assert exotel_connection.check_message == result.message and exotel_connection.checked_at is not None
    [request] = exotel.seen("/v1/")
    assert request.query == {"PageSize": "1"}


def test_a_wrong_token_fails_the_check(exotel, exotel_connection):
    exotel_connection.api_token = "not-the-token"
    exotel_connection.save()
    assert exotel_connection_check(connection=exotel_connection).message == "Exotel refused the API key and token."


def test_a_wrong_account_sid_fails_the_check(exotel, exotel_connection):
    exotel_connection.account_sid = "someoneelse"
    exotel_connection.save()
    result = exotel_connection_check(connection=exotel_connection)
    assert result.message == "Exotel has no account with the SID someoneelse."


def test_the_callback_urls_are_absolute_and_carry_the_token(exotel_connection, settings):
    settings.SITE_URL = "https://caly.example.com/"
    urls = exotel_callback_urls(connection=exotel_connection)
    base = f"https://caly.example.com/api/v1/webhooks/exotel/{exotel_connection.public_id}/"
    assert urls == {
        "status_callback": f"{base}{exotel_connection.webhook_token}/status-callback",
        "passthru": f"{base}{exotel_connection.webhook_token}/passthru",
    }


def test_an_exotel_that_refuses_the_connection_is_reported_in_plain_words(exotel, exotel_connection):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        exotel_connection.api_host = f"127.0.0.1:{probe.getsockname()[1]}"
    exotel_connection.save()

    result = exotel_connection_check(connection=exotel_connection)

    assert (result.ok, result.message) == (False, "Could not connect to Exotel; try again in a few minutes.")
