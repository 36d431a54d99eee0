"""Exotel deliveries become calls: IST times, national numbers, quoted digits, the fake EndTime,
statuses arriving out of order, bare callbacks completed from Call Details, and reconciliation."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from integrations.exotel import payload
from integrations.exotel.reconcile import RECONCILE_DELAY_SECONDS, RECONCILE_MAX_ATTEMPTS
from integrations.inbox import webhook_receive
from integrations.models import WebhookEvent, WebhookProvider, WebhookStatus
from recordings import services as recording_services
from recordings.models import Call, Recording, RecordingStatus
from tests.exotel_fake import (
    ACCOUNT_SID,
    MP3,
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    form,
    passthru,
    status_callback,
)
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def deliver(client, exotel_connection, django_capture_on_commit_callbacks):
    """Deliver fields as Exotel would and let the (immediate) task backend process them."""

    def _deliver(fields, *, kind="status_callback"):
        with django_capture_on_commit_callbacks(execute=True):
            if kind == "passthru":
                response = client.get(callback_path(exotel_connection, "passthru") + "?" + urlencode(fields))
            else:
                response = client.post(callback_path(exotel_connection), form(fields), content_type=FORM)
        assert response.status_code == 200, response.content
        return Call.objects.get(client=exotel_connection.client, provider_call_id=fields["CallSid"])

    return _deliver


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def ist(*args) -> datetime:
    return datetime(*args, tzinfo=payload.IST)


# --- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("09876543210", "+919876543210"),
        ("9876543210", "+919876543210"),
        ("919876543210", "+919876543210"),
        ("+919876543210", "+919876543210"),
        ("08047112233", "+918047112233"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("0044 20 7946 0958", "+442079460958"),
        ("", None),
        ("Anonymous", None),
        ("sip:agent@acme.exotel.in", None),
        ("12345", None),
    ],
)
def test_numbers_become_e164_with_national_ones_taken_as_indian(raw, e164):
    assert payload.phone_e164(raw) == e164


def test_exotel_times_are_ist_wall_clock():
    assert payload.exotel_time("2026-11-20 14:03:11", name="StartTime") == datetime(2026, 11, 20, 8, 33, 11, tzinfo=UTC)
    assert payload.exotel_time("1970-01-01 05:30:00", name="EndTime") is None
    with pytest.raises(payload.PayloadError, match="StartTime"):
        payload.exotel_time("20/11/2026 2:03 PM", name="StartTime")


# --- status callbacks --------------------------------------------------------------------------


def test_a_terminal_callback_makes_a_complete_call(deliver, exotel_connection, exotel):
    exotel.add_recording("call.mp3")
    call = deliver(status_callback(RecordingUrl=exotel.recording_url("call.mp3")))

    assert call.client == exotel_connection.client
    assert (call.provider, call.direction, call.status) == ("exotel", "inbound", "completed")
    assert (call.from_number, call.to_number) == ("+919812345678", "+918047112233")
    assert call.started_at == ist(2026, 11, 20, 14, 3, 11)
    assert call.ended_at == ist(2026, 11, 20, 14, 7, 40)
    assert call.duration_seconds == 261
    assert call.answered_at == call.ended_at - timedelta(seconds=261)
    assert call.metadata == {"custom_field": "order-1042"}
    recording = Recording.objects.get(call=call)
    assert recording.status == RecordingStatus.STORED and recording.size_bytes == len(MP3)
    assert recording.started_at == call.started_at and call.has_recording
    assert WebhookEvent.objects.get().status == WebhookStatus.PROCESSED


def test_outbound_directions_are_outbound(deliver):
    assert deliver(status_callback(Direction="outbound-api", RecordingUrl="")).direction == "outbound"
    assert (
        deliver(status_callback(CallSid="other1", Direction="outbound-dial", RecordingUrl="")).direction == "outbound"
    )


def test_an_answered_event_then_the_terminal_one(deliver):
    answered = status_callback(
        EventType="answered", Status="in-progress", DateUpdated="2026-11-20 14:03:19", EndTime="", RecordingUrl=""
    )
    answered.pop("ConversationDuration")
    call = deliver(answered)
    assert call.status == "in-progress" and call.answered_at == ist(2026, 11, 20, 14, 3, 19)
    assert call.ended_at is None

    call = deliver(status_callback(RecordingUrl=""))
    assert call.status == "completed" and call.ended_at == ist(2026, 11, 20, 14, 7, 40)
    assert call.answered_at == ist(2026, 11, 20, 14, 3, 19)  # the answered event's time stays
    assert call.duration_seconds == 261


def test_a_late_ringing_after_completed_does_not_move_the_call_back(deliver):
    deliver(status_callback(RecordingUrl=""))
    call = deliver(
        status_callback(Status="ringing", EventType="", EndTime="", ConversationDuration="0", RecordingUrl="")
    )
    call = deliver(status_callback(Status="in-progress", EventType="answered", RecordingUrl=""))

    assert call.status == "completed" and call.duration_seconds == 261
    assert call.ended_at == ist(2026, 11, 20, 14, 7, 40)
    assert WebhookEvent.objects.filter(status=WebhookStatus.PROCESSED).count() == 3


def test_a_passthru_cannot_overrule_the_status_callbacks_final_word(deliver):
    call_sid = status_callback()["CallSid"]
    deliver(status_callback(RecordingUrl=""))
    call = deliver(
        passthru(CallSid=call_sid, CallType="client-hangup", CallStatus="", RecordingUrl=""), kind="passthru"
    )
    assert call.status == "completed"
    assert call.started_at == ist(2026, 11, 20, 14, 3, 11)  # the Passthru's later StartTime is mid-call
    assert call.metadata["digits"] == "2"  # what it adds is kept


def test_the_status_callback_corrects_a_passthrus_terminal_guess(deliver):
    call_sid = status_callback()["CallSid"]
    deliver(passthru(CallSid=call_sid, CallType="incomplete", CallStatus="", RecordingUrl=""), kind="passthru")
    call = deliver(status_callback(RecordingUrl=""))
    assert call.status == "completed"


def test_a_bare_callback_for_a_new_call_takes_the_numbers_from_call_details(deliver, exotel):
    exotel.add_call("bare0001", From="09812300000", To="08047112233", Direction="outbound-api")
    call = deliver({"CallSid": "bare0001", "Status": "busy", "DateUpdated": "2026-11-20 16:00:05", "RecordingUrl": ""})

    assert (call.from_number, call.to_number, call.direction, call.status) == (
        "+919812300000",
        "+918047112233",
        "outbound",
        "busy",
    )
    assert [r.path for r in exotel.seen("/v1/")] == [f"/v1/Accounts/{ACCOUNT_SID}/Calls/bare0001.json"]


def test_a_bare_callback_while_exotel_is_down_is_retried_then_fails_visibly(
    client, exotel_connection, exotel, settings, django_capture_on_commit_callbacks
):
    settings.TASK_MAX_ATTEMPTS = 2
    exotel.script(f"/v1/Accounts/{ACCOUNT_SID}/Calls/bare0002.json", 500, 500)
    with django_capture_on_commit_callbacks(execute=True):  # the immediate backend runs the retry at once
        client.post(
            callback_path(exotel_connection), form({"CallSid": "bare0002", "Status": "busy"}), content_type=FORM
        )

    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == (WebhookStatus.FAILED, 2)
    assert "HTTP 500" in event.last_error
    assert not Call.objects.exists()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (status_callback(StartTime="yesterday"), "StartTime is not a time"),
        (status_callback(Status="exploded"), "not an Exotel call status"),
        (status_callback(ConversationDuration="long"), "ConversationDuration is not a number"),
    ],
)
def test_a_payload_that_cannot_be_understood_fails_at_once_and_visibly(
    client, exotel_connection, django_capture_on_commit_callbacks, fields, error
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(callback_path(exotel_connection), form(fields), content_type=FORM)

    assert response.status_code == 200  # stored: an admin can reprocess it once the code knows better
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts, event.next_attempt_at) == (WebhookStatus.FAILED, 1, None)
    assert error in event.last_error and "PermanentError" in event.last_error
    assert not Call.objects.exists()


def test_a_stored_body_that_does_not_parse_fails_permanently(exotel_connection, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event, _ = webhook_receive(
            client=exotel_connection.client,
            provider=WebhookProvider.EXOTEL,
            dedupe_key="broken",
            topic="status-callback",
            body=b"{not json",
            content_type="application/json",
        )
    event.refresh_from_db()
    assert event.status == WebhookStatus.FAILED and "not valid JSON" in event.last_error


# --- Passthru ----------------------------------------------------------------------------------


def test_passthru_quirks(deliver, exotel):
    exotel.add_recording("passthru.mp3")
    call = deliver(passthru(RecordingUrl=exotel.recording_url("passthru.mp3")), kind="passthru")

    assert (call.direction, call.status) == ("inbound", "completed")
    assert (call.from_number, call.to_number) == ("+919812345678", "+918047112233")
    assert call.started_at == ist(2026, 11, 20, 14, 10, 2)
    assert call.ended_at is None  # the constant fake EndTime is not an end
    assert call.duration_seconds == 95
    assert call.metadata == {"digits": "2", "dial_whom_number": "+919900011122"}
    assert Recording.objects.get(call=call).status == RecordingStatus.STORED


def test_a_passthru_mid_flow_is_an_in_progress_call(deliver):
    fields = passthru(CallType="call-attempt", CallStatus="", DialCallDuration="", RecordingUrl="", digits='"15"')
    call = deliver(fields, kind="passthru")
    assert call.status == "in-progress" and call.metadata["digits"] == "15"


# --- reconciliation ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_completed_call_without_a_recording_is_looked_up_later(client, exotel_connection, exotel, database_queue):
    call_sid = status_callback()["CallSid"]
    client.post(callback_path(exotel_connection), form(status_callback(RecordingUrl="")), content_type=FORM)
    before = timezone.now()
    run_worker()

    call = Call.objects.get()
    assert call.status == "completed" and not Recording.objects.exists()
    [lookup] = DBTaskResult.objects.filter(status="READY")
    assert lookup.task_path.endswith("reconcile_call")
    expected = before + timedelta(seconds=RECONCILE_DELAY_SECONDS)
    assert abs((lookup.run_after - expected).total_seconds()) < 30

    exotel.add_call(call_sid, RecordingUrl=exotel.add_recording("late.mp3"), EndTime="2026-11-20 14:07:41")
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))
    run_worker()

    call.refresh_from_db()
    recording = Recording.objects.get(call=call)
    assert recording.status == RecordingStatus.STORED and recording.source_url.endswith("/recordings/late.mp3")
    assert call.ended_at == ist(2026, 11, 20, 14, 7, 41) and call.has_recording


@pytest.mark.django_db(transaction=True)
def test_reconciliation_gives_up_after_a_bounded_number_of_look_ups(client, exotel_connection, exotel, database_queue):
    call_sid = status_callback()["CallSid"]
    exotel.add_call(call_sid)  # never a RecordingUrl
    client.post(callback_path(exotel_connection), form(status_callback(RecordingUrl="")), content_type=FORM)
    run_worker()
    for _ in range(RECONCILE_MAX_ATTEMPTS + 2):
        DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now() - timedelta(seconds=1))
        run_worker()

    assert len(exotel.seen(f"/v1/Accounts/{ACCOUNT_SID}/Calls/{call_sid}.json")) == RECONCILE_MAX_ATTEMPTS
    assert not DBTaskResult.objects.filter(status="READY").exists()
    assert not Recording.objects.exists()


def test_a_late_recording_url_does_not_bring_deleted_audio_back(deliver, exotel, exotel_connection):
    exotel.add_recording("call.mp3")
    url = exotel.recording_url("call.mp3")
    call = deliver(status_callback(RecordingUrl=url))
    recording_services.recording_delete(recording=Recording.objects.get(call=call), actor=None)
    fetched = len(exotel.seen("/recordings/"))

    deliver(passthru(CallSid=call.provider_call_id, RecordingUrl=url), kind="passthru")

    assert [r.status for r in Recording.objects.filter(call=call)] == [RecordingStatus.DELETED]
    assert len(exotel.seen("/recordings/")) == fetched


def test_calls_are_kept_per_client(deliver, client_b, exotel_connection):
    CallFactory(client=client_b, provider_call_id=status_callback()["CallSid"], status="ringing")
    call = deliver(status_callback(RecordingUrl=""))

    assert call.client == exotel_connection.client
    assert Call.objects.get(client=client_b).status == "ringing"
