"""Stuck calls: the scheduled sweep asks the (fake) Exotel's Call Details API about calls left queued, ringing
or in progress, moves them on with the answer, retries a bounded number of times and then marks them failed
with the reason (integrations/exotel/stuck.py)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from caly.foundation.ops import scheduler
from integrations.exotel import stuck
from integrations.exotel.tasks import sweep_stuck_calls
from integrations.models import ExotelConnection
from recordings.models import Call, CallStatus, Recording
from tests.exotel_fake import (
    ACCOUNT_SID,
    API_KEY,
    API_TOKEN,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
)
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db
DETAILS = f"/v1/Accounts/{ACCOUNT_SID}/Calls/"


def stuck_call(client, sid: str, *, status=CallStatus.QUEUED, minutes_ago: int = 120, touched_minutes_ago: int = 60):
    call = CallFactory(
        client=client,
        provider_call_id=sid,
        status=status,
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
        answered_at=None,
        ended_at=None,
        duration_seconds=0,
    )
    touch(call, minutes_ago=touched_minutes_ago)
    return call


def touch(call: Call, *, minutes_ago: int) -> None:
    """As if the call last changed `minutes_ago` (the sweep looks again only after STUCK_RECHECK_MINUTES)."""
    Call.objects.filter(pk=call.pk).update(updated_at=timezone.now() - timedelta(minutes=minutes_ago))


def asked(exotel, sid: str) -> int:
    return len(exotel.seen(f"{DETAILS}{sid}.json"))


def test_it_ends_a_stuck_call_with_exotels_final_word_and_fetches_its_recording(exotel, exotel_connection):
    call = stuck_call(exotel_connection.client, "stuck-completed")
    recording_url = exotel.add_recording("stuck-completed.mp3")
    exotel.add_call("stuck-completed", Status="completed", Duration="269", RecordingUrl=recording_url)

    summary = stuck.exotel_stuck_calls_sweep()

    call.refresh_from_db()
    assert (call.status, call.duration_seconds) == (CallStatus.COMPLETED, 261)
    assert call.ended_at is not None and stuck.REASON_KEY not in call.metadata
    assert Recording.objects.get(call=call).source_url == recording_url
    assert (summary.looked_up, summary.updated, summary.failed) == (1, 1, 0)


@pytest.mark.parametrize("exotel_status", ["busy", "no-answer", "failed", "canceled"])
def test_it_takes_exotels_unanswered_outcomes_as_they_are(exotel, exotel_connection, exotel_status):
    call = stuck_call(exotel_connection.client, "stuck-unanswered", status=CallStatus.RINGING)
    exotel.add_call("stuck-unanswered", Status=exotel_status, Duration="0", Details={})

    stuck.exotel_stuck_calls_sweep()

    call.refresh_from_db()
    assert call.status == exotel_status and stuck.REASON_KEY not in call.metadata


def test_it_retries_a_bounded_number_of_times_then_marks_the_call_failed_with_the_reason(exotel, exotel_connection):
    call = stuck_call(exotel_connection.client, "unknown-to-exotel")  # the fake answers 404

    first = stuck.exotel_stuck_calls_sweep()
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.metadata[stuck.ATTEMPTS_KEY] == 1
    assert (first.retried, first.failed) == (1, 0)

    # Idempotent: a run right after asks Exotel nothing and changes nothing.
    again = stuck.exotel_stuck_calls_sweep()
    assert again.looked_up == 0 and asked(exotel, "unknown-to-exotel") == 1

    for attempt in (2, 3):
        touch(call, minutes_ago=stuck.STUCK_RECHECK_MINUTES + 1)
        stuck.exotel_stuck_calls_sweep()
        call.refresh_from_db()
        assert call.metadata[stuck.ATTEMPTS_KEY] == attempt

    assert call.status == CallStatus.FAILED
    assert call.metadata[stuck.REASON_KEY] == (
        "No final status from Exotel: still queued after 3 look-ups. Exotel has no such call on this account."
    )
    touch(call, minutes_ago=60)
    assert stuck.exotel_stuck_calls_sweep().looked_up == 0  # failed is final: never asked about again
    assert asked(exotel, "unknown-to-exotel") == stuck.STUCK_MAX_ATTEMPTS


def test_a_call_exotel_still_reports_going_is_live_until_exotels_time_limit(exotel, exotel_connection):
    live = stuck_call(exotel_connection.client, "long-call", status=CallStatus.IN_PROGRESS, minutes_ago=90)
    started_ist = (live.started_at).astimezone(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S")
    exotel.add_call("long-call", Status="in-progress", StartTime=started_ist, DateCreated=started_ist, EndTime=None)

    summary = stuck.exotel_stuck_calls_sweep()

    live.refresh_from_db()
    assert live.status == CallStatus.IN_PROGRESS and stuck.ATTEMPTS_KEY not in live.metadata
    assert stuck.CHECKED_KEY in live.metadata and summary.live == 1
    assert stuck.exotel_stuck_calls_sweep().looked_up == 0  # looked at again only after the recheck interval

    # Past Exotel's longest call, "in progress" is stuck at Exotel too.
    five_hours_ago = (timezone.now() - timedelta(hours=5)).astimezone(ZoneInfo("Asia/Kolkata"))
    exotel.calls["long-call"]["StartTime"] = five_hours_ago.strftime("%Y-%m-%d %H:%M:%S")
    for _ in range(stuck.STUCK_MAX_ATTEMPTS):
        touch(live, minutes_ago=stuck.STUCK_RECHECK_MINUTES + 1)
        stuck.exotel_stuck_calls_sweep()
    live.refresh_from_db()
    assert live.status == CallStatus.FAILED
    assert "Exotel still reports it in progress more than 4 hours after it started." in live.metadata[stuck.REASON_KEY]


def test_it_asks_nothing_about_young_ended_or_recently_changed_calls(exotel, exotel_connection, settings):
    settings.EXOTEL_STUCK_CALL_MINUTES = 30
    client = exotel_connection.client
    stuck_call(client, "young", minutes_ago=20)
    stuck_call(client, "just-touched", minutes_ago=120, touched_minutes_ago=2)
    stuck_call(client, "ended", status=CallStatus.COMPLETED)
    stuck_call(client, "stuck-old", minutes_ago=45)

    summary = stuck.exotel_stuck_calls_sweep()

    assert summary.looked_up == 1 and [seen.path for seen in exotel.seen(DETAILS)] == [f"{DETAILS}stuck-old.json"]


def test_unreachable_exotel_counts_an_attempt_and_leaves_the_clients_other_calls_for_the_next_run(
    exotel, exotel_connection, client_b
):
    first = stuck_call(exotel_connection.client, "a-first", touched_minutes_ago=90)
    second = stuck_call(exotel_connection.client, "a-second", touched_minutes_ago=80)
    other = ExotelConnection.objects.create(
        client=client_b, account_sid=ACCOUNT_SID, api_key=API_KEY, api_token=API_TOKEN, api_host=exotel.host
    )
    theirs = stuck_call(other.client, "b-call")
    exotel.add_call("b-call", Status="completed")
    exotel.script(f"{DETAILS}a-first.json", 503)

    summary = stuck.exotel_stuck_calls_sweep()

    first.refresh_from_db()
    second.refresh_from_db()
    theirs.refresh_from_db()
    assert first.metadata[stuck.ATTEMPTS_KEY] == 1 and first.status == CallStatus.QUEUED
    assert asked(exotel, "a-second") == 0 and stuck.ATTEMPTS_KEY not in second.metadata
    assert theirs.status == CallStatus.COMPLETED  # the other client is swept all the same
    assert (summary.clients, summary.retried, summary.updated) == (2, 1, 1)


def test_refused_credentials_are_the_reason_given_after_the_last_attempt(exotel, exotel_connection):
    ExotelConnection.objects.filter(pk=exotel_connection.pk).update(api_token="a-token-exotel-refuses")
    call = stuck_call(exotel_connection.client, "refused")
    exotel.add_call("refused", Status="completed")

    for _ in range(stuck.STUCK_MAX_ATTEMPTS):
        touch(call, minutes_ago=stuck.STUCK_RECHECK_MINUTES + 1)
        stuck.exotel_stuck_calls_sweep()

    call.refresh_from_db()
    assert call.status == CallStatus.FAILED
    assert call.metadata[stuck.REASON_KEY].endswith("Exotel refused the connection's API key and token.")


def test_a_run_is_bounded_per_client_oldest_touched_first(exotel, exotel_connection, monkeypatch):
    monkeypatch.setattr(stuck, "STUCK_CALLS_PER_CLIENT", 2)
    for n, touched in enumerate((30, 90, 60)):
        stuck_call(exotel_connection.client, f"bounded-{n}", touched_minutes_ago=touched)
        exotel.add_call(f"bounded-{n}", Status="completed")

    assert stuck.exotel_stuck_calls_sweep().looked_up == 2
    assert [seen.path for seen in exotel.seen(DETAILS)] == [f"{DETAILS}bounded-1.json", f"{DETAILS}bounded-2.json"]
    assert stuck.exotel_stuck_calls_sweep().looked_up == 1  # the rest, next run


def test_a_callback_that_ended_the_call_meanwhile_wins(exotel, exotel_connection):
    call = stuck_call(exotel_connection.client, "ended-meanwhile")
    Call.objects.filter(pk=call.pk).update(status=CallStatus.COMPLETED)

    assert (
        stuck.stuck_call_attempt_record(call=call, problem="Exotel could not be reached.", now=timezone.now()) is False
    )
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED and stuck.ATTEMPTS_KEY not in call.metadata


def test_clients_without_exotel_are_skipped(exotel, client_a):
    stuck_call(client_a, "no-connection")

    assert stuck.exotel_stuck_calls_sweep().looked_up == 0 and exotel.seen() == []


def test_the_sweep_is_scheduled_every_five_minutes_and_its_task_reports_what_it_did(exotel, exotel_connection):
    [job] = [job for job in scheduler.declared_jobs() if job.name == "sweep-stuck-calls"]
    assert job.task == "integrations.exotel.tasks.sweep_stuck_calls"
    assert job.schedule == scheduler.Every(timedelta(minutes=5))
    stuck_call(exotel_connection.client, "via-task")
    exotel.add_call("via-task", Status="completed")

    result = sweep_stuck_calls.enqueue().return_value

    assert result["looked_up"] == 1 and result["updated"] == 1
