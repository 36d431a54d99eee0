"""The worker's side of an Exotel delivery: the stored body becomes a call update (see integrations/processing.py).

`handle_event` runs inside the inbox's transaction holding the event's row lock, so the call, its
pending recording and the queued fetch commit together with the event's new status.
"""

from __future__ import annotations

from caly.foundation.tasks import retry_later
from integrations.exotel import payload, services, tasks
from integrations.exotel.client import ExotelClient, ExotelError, ExotelNotFound
from integrations.exotel.reconcile import RECONCILE_DELAY_SECONDS
from integrations.models import ExotelConnection, WebhookEvent, WebhookStatus
from integrations.processing import PermanentError
from recordings.fetch_queue import recording_queue
from recordings.models import CallStatus, Recording

PASSTHRU = "passthru"
STATUS_CALLBACK = "status-callback"


def handle_event(event: WebhookEvent) -> WebhookStatus:
    """Apply one StatusCallback or Passthru to its call. Raises PermanentError for a payload that cannot be read."""
    try:
        fields = payload.parse_body(bytes(event.body), payload.QUERY if event.topic == PASSTHRU else event.content_type)
        facts = payload.passthru_facts(fields) if event.topic == PASSTHRU else payload.status_callback_facts(fields)
    except payload.PayloadError as exc:
        raise PermanentError(str(exc)) from None
    try:
        result = services.exotel_call_upsert(client=event.client, facts=facts)
    except services.MissingCallFacts:
        # A bare StatusCallback (CallSid, Status, RecordingUrl only) for a call Caly never saw:
        # Exotel's Call Details has the numbers. Failing to reach it raises, and the inbox retries.
        result = services.exotel_call_upsert(client=event.client, facts=_with_details(event, facts))
    call = result.call
    if facts.recording_url:
        recording_queue(call=call, source_url=facts.recording_url)
    # Exotel may send the terminal callback before the recording is ready, and Passthru's EndTime
    # is fake: the Call Details API has both some minutes later.
    lacks_recording = not facts.recording_url and not Recording.objects.filter(call=call).exists()
    if result.became_terminal and call.status == CallStatus.COMPLETED and (lacks_recording or facts.end_time_is_fake):
        # Look the call up in the Call Details API later (recording, duration, end time).
        retry_later(tasks.reconcile_call, call.pk, attempt=1, delay_seconds=RECONCILE_DELAY_SECONDS)
    return WebhookStatus.PROCESSED


def _with_details(event: WebhookEvent, facts: payload.CallFacts) -> payload.CallFacts:
    connection = ExotelConnection.objects.for_client(event.client).connected().first()
    if connection is None:
        raise PermanentError(f"Call {facts.call_sid} is new, the delivery has no numbers and Exotel is not connected.")
    try:
        with ExotelClient(connection) as exotel:
            details = payload.details_facts(exotel.call_details(facts.call_sid))
    except payload.PayloadError as exc:
        raise PermanentError(f"Exotel's call details were not understood: {exc}") from None
    except ExotelNotFound:
        raise PermanentError(f"Exotel has no call {facts.call_sid} on this account.") from None
    except ExotelError as exc:
        raise RuntimeError(f"Call {facts.call_sid} is new and its details could not be fetched: {exc}") from None
    for name in ("direction", "from_number", "to_number", "started_at", "ended_at", "duration_seconds"):
        if getattr(facts, name) in (None, ""):
            setattr(facts, name, getattr(details, name))
    if not facts.from_number or not facts.to_number:
        raise PermanentError(f"Call {facts.call_sid}: neither the delivery nor Exotel's details give its numbers.")
    return facts
