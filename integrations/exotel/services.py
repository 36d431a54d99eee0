"""Exotel behaviour: callback URLs, credentials checks, calls kept in step with Exotel, recordings fetched.

Calls are keyed by (client, provider exotel, CallSid). Deliveries arrive in any order and more than
once, so `exotel_call_upsert` only ever moves a call forward: a terminal status is never replaced by
an earlier one (a late "ringing" after "completed"), and only Exotel's final word (a StatusCallback
or the Call Details API) may correct a terminal status given by a Passthru.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from caly.foundation import metrics
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.tasks import backoff_seconds, enqueue_with_transaction, retry_later
from integrations.credentials import CheckResult
from integrations.exotel import payload
from integrations.exotel.client import (
    ExotelClient,
    ExotelError,
    ExotelNotFound,
    ExotelRefused,
    ExotelUnavailable,
    RecordingRefused,
    recording_url_problem,
)
from integrations.exotel.credentials import exotel_credentials_check
from integrations.models import ExotelConnection
from integrations.services import connection_check_record
from recordings.models import Call, CallStatus, Direction, Provider, Recording, RecordingStatus
from recordings.services import call_create, recording_store
from recordings.storage import RecordingTooLarge

logger = logging.getLogger("caly.exotel")

# Exotel's Call Details settle (recording, duration, end time) 1–15 minutes after a call: look
# again every 10 minutes, three times.
RECONCILE_DELAY_SECONDS = 600
RECONCILE_MAX_ATTEMPTS = 3
STATUS_RANK = {CallStatus.QUEUED: 0, CallStatus.RINGING: 1, CallStatus.IN_PROGRESS: 2}
TERMINAL_RANK = 3


def _rank(status: str) -> int:
    return STATUS_RANK.get(status, TERMINAL_RANK)


# --- connection --------------------------------------------------------------------------------


def exotel_callback_urls(*, connection: ExotelConnection) -> dict[str, str]:
    """The absolute URLs to paste into Exotel: {"status_callback": …, "passthru": …}. They carry the secret token."""
    site = settings.SITE_URL.rstrip("/")
    kwargs = {"public_id": connection.public_id, "token": connection.webhook_token}
    return {
        "status_callback": site + reverse("exotel-status-callback", kwargs=kwargs),
        "passthru": site + reverse("exotel-passthru", kwargs=kwargs),
    }


def exotel_connection_check(*, connection: ExotelConnection) -> CheckResult:
    """Ask Exotel whether the key, token and account SID work; the outcome is kept on the connection."""
    return connection_check_record(connection=connection, result=exotel_credentials_check(connection))


# --- calls -------------------------------------------------------------------------------------


class MissingCallFacts(ValueError):
    """A call Caly has not seen yet cannot be created from what was delivered (no numbers)."""


@dataclass(frozen=True)
class CallUpsert:
    call: Call
    created: bool
    became_terminal: bool


def exotel_call_upsert(*, client: Client, facts: payload.CallFacts) -> CallUpsert:
    """Create the call or move it forward with what `facts` say; race-safe. Raises MissingCallFacts."""
    with transaction.atomic():
        calls = Call.objects.select_for_update().filter(
            client=client, provider=Provider.EXOTEL, provider_call_id=facts.call_sid
        )
        call = calls.first()
        if call is None:
            created = _create_call(client=client, facts=facts)
            if created is not None:
                return CallUpsert(call=created, created=True, became_terminal=created.status in payload.TERMINAL)
            call = calls.get()  # another delivery created it a moment ago; its transaction has committed
        was_terminal = call.status in payload.TERMINAL
        changed = _apply(call, facts)
        if changed:
            call.full_clean(validate_unique=False, validate_constraints=False)
            call.save(update_fields=[*changed, "updated_at"])
            if "started_at" in changed:
                Recording.objects.filter(call=call).update(started_at=call.started_at)
        became_terminal = not was_terminal and call.status in payload.TERMINAL
        return CallUpsert(call=call, created=False, became_terminal=became_terminal)


def _create_call(*, client: Client, facts: payload.CallFacts) -> Call | None:
    """The new call, or None when another transaction created it first."""
    missing = [name for name in ("from_number", "to_number") if not getattr(facts, name)]
    if missing:
        raise MissingCallFacts(f"Call {facts.call_sid} is new to Caly and the delivery has no {', '.join(missing)}.")
    started_at = facts.started_at or timezone.now()
    answered_at = facts.answered_at
    if answered_at is None and facts.ended_at and facts.duration_seconds and facts.status == CallStatus.COMPLETED:
        answered_at = facts.ended_at - timedelta(seconds=facts.duration_seconds)
    fields = {
        "provider": Provider.EXOTEL,
        "provider_call_id": facts.call_sid,
        "direction": facts.direction or Direction.INBOUND,
        "from_number": facts.from_number,
        "to_number": facts.to_number,
        "status": facts.status or CallStatus.QUEUED,
        "started_at": started_at,
        "answered_at": answered_at,
        "ended_at": facts.ended_at,
        "duration_seconds": facts.duration_seconds or 0,
        "metadata": facts.metadata,
    }
    try:
        with transaction.atomic():
            return call_create(client=client, **fields)
    except IntegrityError:
        return None
    except ValidationError as exc:
        # full_clean reports the unique constraint too: then the other delivery won the race.
        if Call.objects.filter(client=client, provider=Provider.EXOTEL, provider_call_id=facts.call_sid).exists():
            return None
        raise MissingCallFacts(f"Call {facts.call_sid} cannot be created: {exc.messages}") from None


def _apply(call: Call, facts: payload.CallFacts) -> list[str]:
    """Move `call` forward with `facts`; returns the names of the fields that changed."""
    updates: dict[str, object] = {}
    current_rank = _rank(call.status)
    if facts.status:
        new_rank = _rank(facts.status)
        if new_rank > current_rank or (
            new_rank == TERMINAL_RANK == current_rank and facts.authoritative and facts.status != call.status
        ):
            updates["status"] = facts.status
    # Exotel's final word sets the start; a Passthru may only move it earlier (applets run mid-call).
    if facts.started_at and facts.source != "placed" and (facts.authoritative or facts.started_at < call.started_at):
        updates["started_at"] = facts.started_at
    if facts.ended_at and (call.ended_at is None or facts.authoritative):
        updates["ended_at"] = facts.ended_at
    # A duration comes with the end of a call; an earlier event's 0 never erases a known one.
    if facts.duration_seconds and (facts.is_terminal or facts.authoritative or not call.duration_seconds):
        updates["duration_seconds"] = facts.duration_seconds
    answered_at = facts.answered_at
    ended_at = updates.get("ended_at") or call.ended_at
    duration = updates.get("duration_seconds", call.duration_seconds)
    status = updates.get("status", call.status)
    if answered_at is None and status == CallStatus.COMPLETED and ended_at and duration:
        answered_at = ended_at - timedelta(seconds=duration)
    if answered_at and call.answered_at is None:
        updates["answered_at"] = answered_at
    metadata = {**call.metadata, **facts.metadata}
    if metadata != call.metadata:
        updates["metadata"] = metadata
    changed = []
    for name, value in updates.items():
        if getattr(call, name) != value:
            setattr(call, name, value)
            changed.append(name)
    return changed


# --- outbound calls ----------------------------------------------------------------------------


def exotel_call_place(
    *,
    client: Client,
    actor: User,
    to_number: str,
    from_number: str,
    caller_id: str | None = None,
    record: bool = True,
    custom_field: str = "",
) -> Call:
    """Ask Exotel to ring `from_number` (the agent) and connect it to `to_number`; returns the queued call.

    Raises DomainError: CONFLICT (Exotel not connected, no caller id), VALIDATION_ERROR (a caller id
    that is not the connection's), PROVIDER_ERROR (Exotel refused) or SERVICE_UNAVAILABLE.
    """
    connection = ExotelConnection.objects.for_client(client).first()
    if connection is None:
        raise DomainError(ErrorCode.CONFLICT, "Exotel is not connected: connect it on the integrations page first.")
    caller_ids = [str(number) for number in connection.caller_ids or []]
    if caller_id is None:
        if not caller_ids:
            raise DomainError(
                ErrorCode.CONFLICT, "The Exotel connection has no caller ids: add an ExoPhone to it first."
            )
        caller_id = caller_ids[0]
    elif caller_id not in caller_ids:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR,
            "The request is invalid.",
            details={"caller_id": ["Use one of the Exotel connection's caller ids."]},
        )
    form = {
        "From": from_number,
        "To": to_number,
        "CallerId": caller_id,
        "Record": "true" if record else "false",
        "StatusCallback": exotel_callback_urls(connection=connection)["status_callback"],
        "StatusCallbackEvents[0]": "terminal",
        "StatusCallbackEvents[1]": "answered",
        "StatusCallbackContentType": "application/json",
    }
    if custom_field:
        form["CustomField"] = custom_field
    try:
        with ExotelClient(connection) as exotel:
            answer = exotel.connect(form)
    except ExotelUnavailable as exc:
        raise DomainError(
            ErrorCode.SERVICE_UNAVAILABLE,
            f"Exotel could not place the call: {exc}",
            retry_after=max(1, round(exc.retry_after or 30)),
        ) from None
    except ExotelError as exc:
        raise DomainError(ErrorCode.PROVIDER_ERROR, f"Exotel did not place the call: {exc}") from None
    try:
        started_at = payload.exotel_time(payload.text(answer, "StartTime", "DateCreated"), name="StartTime")
        call_sid = payload.call_sid({"CallSid": answer.get("Sid")})
    except payload.PayloadError as exc:
        raise DomainError(ErrorCode.PROVIDER_ERROR, f"Exotel's answer was not understood: {exc}") from None
    metadata = {"caller_id": caller_id, "placed_by": str(actor.public_id)}
    if custom_field:
        metadata["custom_field"] = custom_field
    facts = payload.CallFacts(
        call_sid=call_sid,
        source="placed",
        direction=Direction.OUTBOUND,
        from_number=from_number,
        to_number=to_number,
        status=CallStatus.QUEUED,
        started_at=started_at or timezone.now(),
        metadata=metadata,
    )
    with transaction.atomic():
        call = exotel_call_upsert(client=client, facts=facts).call
        audit_record(
            action=AuditAction.CALL_PLACED,
            client=client,
            actor=actor,
            target=call,
            metadata={"to": to_number, "from": from_number, "caller_id": caller_id, "record": record},
        )
    return call


# --- recordings --------------------------------------------------------------------------------


def exotel_recording_queue(*, call: Call, source_url: str) -> Recording | None:
    """Note the call's recording URL (a pending recording) and queue its fetch; idempotent.

    Nothing happens when the call's audio is already stored or was deleted (by a user or
    retention): a late callback must not bring deleted audio back.
    """
    with transaction.atomic():
        recordings = Recording.objects.select_for_update().filter(call=call)
        existing = list(recordings)
        if any(r.status in (RecordingStatus.DELETED, RecordingStatus.STORED) for r in existing):
            return None
        live = next((r for r in existing if r.status != RecordingStatus.DELETED), None)
        if live is None:
            try:
                with transaction.atomic():
                    live = Recording.objects.create(
                        client_id=call.client_id, call=call, started_at=call.started_at, source_url=source_url
                    )
            except IntegrityError:
                return None  # another delivery noted it and queued its fetch
        elif live.source_url == source_url and live.status != RecordingStatus.FAILED:
            return live  # already queued
        else:
            live.source_url = source_url
            live.status = RecordingStatus.PENDING
            live.last_error = ""
            live.save(update_fields=["source_url", "status", "last_error", "updated_at"])
        from integrations.exotel.tasks import fetch_recording

        enqueue_with_transaction(fetch_recording, live.pk)
    return live


@transaction.atomic
def recording_fetch_retry(*, recording: Recording, actor: User | None) -> Recording:
    """Set a failed (or stuck pending) recording back to pending and queue its fetch; audited.

    Raises DomainError(CONFLICT) for a recording that is stored, being fetched or deleted.
    """
    recording = Recording.objects.select_for_update().select_related("client").get(pk=recording.pk)
    if recording.status not in (RecordingStatus.FAILED, RecordingStatus.PENDING):
        raise DomainError(
            ErrorCode.CONFLICT, f"The recording is {recording.status}: only failed or pending ones are retried."
        )
    previous = recording.status
    recording.status = RecordingStatus.PENDING
    recording.last_error = ""
    recording.save(update_fields=["status", "last_error", "updated_at"])
    audit_record(
        action=AuditAction.RECORDING_FETCH_RETRIED,
        client=recording.client,
        actor=actor,
        target=recording,
        metadata={"previous_status": previous},
    )
    from integrations.exotel.tasks import fetch_recording

    enqueue_with_transaction(fetch_recording, recording.pk)
    return recording


def recording_fetch(*, recording_id: int, attempt: int = 1) -> Recording | None:
    """Download the recording from Exotel into storage (streamed); retried with backoff, failed after the last try.

    Idempotent: a stored or deleted recording is left alone.
    """
    recording = Recording.objects.select_related("call", "client").filter(pk=recording_id).first()
    if recording is None or recording.status in (RecordingStatus.STORED, RecordingStatus.DELETED):
        return recording
    connection = ExotelConnection.objects.for_client(recording.client).first()
    if connection is None:
        return _fetch_failed(recording, "Exotel is not connected, so the recording cannot be fetched.")
    url = recording.source_url
    storing = False
    try:
        with ExotelClient(connection) as exotel:
            if not url:
                url = _recording_url_from_details(exotel, recording)
            problem = recording_url_problem(url)
            if problem:
                return _fetch_failed(recording, problem)
            with exotel.recording(url) as download:
                if Recording.objects.filter(pk=recording.pk, status=RecordingStatus.DELETED).exists():
                    return recording  # deleted while we connected: it stays deleted
                storing = True  # recording_store counts the attempt and keeps the error from here on
                return recording_store(
                    call=recording.call,
                    stream=download.chunks,
                    content_type=download.content_type,
                    source_url=url,
                    duration_seconds=recording.call.duration_seconds or None,
                )
    except (RecordingRefused, RecordingTooLarge) as exc:
        return _fetch_failed(recording, str(exc), counted=storing)
    except ExotelNotFound as exc:
        return _fetch_again(recording, attempt, str(exc), counted=storing)
    except ExotelUnavailable as exc:
        return _fetch_again(recording, attempt, str(exc), counted=storing, retry_after=exc.retry_after)
    except ExotelRefused as exc:
        return _fetch_failed(recording, str(exc), counted=storing)
    except DomainError as exc:  # recording_store refuses what is not audio
        return _fetch_failed(recording, exc.message, counted=storing)
    except Exception as exc:  # storage (S3) down, a stream cut mid-way: try again later
        logger.warning("Fetching recording %s failed: %s", recording.public_id, exc)
        return _fetch_again(recording, attempt, f"Storing the recording failed: {type(exc).__name__}", counted=storing)


def _recording_url_from_details(exotel: ExotelClient, recording: Recording) -> str:
    """A recording noted without a URL (retried from the admin): ask Exotel where it is."""
    facts = payload.details_facts(exotel.call_details(recording.call.provider_call_id))
    if not facts.recording_url:
        raise ExotelNotFound("Exotel has no recording for this call yet.", status_code=404)
    Recording.objects.filter(pk=recording.pk).update(source_url=facts.recording_url)
    return facts.recording_url


def _fetch_failed(recording: Recording, message: str, *, counted: bool = False) -> Recording:
    metrics.record_fetch_failure("exotel")
    updates = {"status": RecordingStatus.FAILED, "last_error": message[:2000], "updated_at": timezone.now()}
    if not counted:
        updates["attempts"] = F("attempts") + 1
    Recording.objects.filter(pk=recording.pk).exclude(status=RecordingStatus.DELETED).update(**updates)
    logger.error("Recording %s of call %s failed: %s", recording.public_id, recording.call.public_id, message)
    recording.refresh_from_db()
    return recording


def _fetch_again(
    recording: Recording, attempt: int, message: str, *, counted: bool, retry_after: float | None = None
) -> Recording:
    if attempt >= settings.TASK_MAX_ATTEMPTS:
        return _fetch_failed(recording, f"Gave up after {attempt} attempts: {message}", counted=counted)
    metrics.record_fetch_failure("exotel")
    from integrations.exotel.tasks import fetch_recording

    delay = backoff_seconds(attempt, retry_after=retry_after)
    updates = {
        "status": RecordingStatus.PENDING,
        "last_error": f"Attempt {attempt} failed: {message} Retrying in {delay:.0f} s."[:2000],
        "updated_at": timezone.now(),
    }
    if not counted:
        updates["attempts"] = F("attempts") + 1
    Recording.objects.filter(pk=recording.pk).exclude(status=RecordingStatus.DELETED).update(**updates)
    logger.warning(
        "Recording %s: attempt %s failed (%s); retrying in %.0f s", recording.public_id, attempt, message, delay
    )
    retry_later(fetch_recording, recording.pk, attempt=attempt + 1, delay_seconds=delay)
    recording.refresh_from_db()
    return recording


# --- reconciliation through the Call Details API ------------------------------------------------


def exotel_call_reconcile_schedule(*, call: Call) -> None:
    """Look the call up in the Call Details API in RECONCILE_DELAY_SECONDS (recording, duration, end time)."""
    from integrations.exotel.tasks import reconcile_call

    retry_later(reconcile_call, call.pk, attempt=1, delay_seconds=RECONCILE_DELAY_SECONDS)


def exotel_call_reconcile(*, call_id: int, attempt: int = 1) -> Call | None:
    """Fill in what the callbacks lacked from the Call Details API; looks again later, a bounded number of times."""
    call = Call.objects.select_related("client").filter(pk=call_id, provider=Provider.EXOTEL).first()
    if call is None:
        return None
    connection = ExotelConnection.objects.for_client(call.client).first()
    if connection is None:
        return call
    try:
        with ExotelClient(connection) as exotel:
            facts = payload.details_facts(exotel.call_details(call.provider_call_id))
    except (ExotelUnavailable, ExotelNotFound) as exc:
        logger.warning("Call details of %s unavailable (attempt %s): %s", call.public_id, attempt, exc)
        _reconcile_again(call, attempt)
        return call
    except (ExotelError, payload.PayloadError) as exc:
        logger.error("Call details of %s refused or not understood: %s", call.public_id, exc)
        return call
    if facts.call_sid != call.provider_call_id:
        logger.error("Call details of %s answered another call", call.public_id)
        return call
    call = exotel_call_upsert(client=call.client, facts=facts).call
    if facts.recording_url:
        exotel_recording_queue(call=call, source_url=facts.recording_url)
    elif call.status == CallStatus.COMPLETED and not Recording.objects.filter(call=call).exists():
        _reconcile_again(call, attempt)
    return call


def _reconcile_again(call: Call, attempt: int) -> None:
    if attempt >= RECONCILE_MAX_ATTEMPTS:
        logger.info("Call %s: no recording after %s look-ups; giving up", call.public_id, attempt)
        return
    from integrations.exotel.tasks import reconcile_call

    retry_later(reconcile_call, call.pk, attempt=attempt + 1, delay_seconds=RECONCILE_DELAY_SECONDS)
