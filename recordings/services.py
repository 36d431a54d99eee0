"""Writes of calls and recordings: create, fetch from the provider and store bytes, update, delete, retention.

A recording's life: queued from its provider's URL (pending; recordings/fetch_queue.py), fetched by
the task recordings.tasks.fetch_recording (fetching, then stored, or pending again with backoff, or
failed), retried by hand, deleted. The provider's part of a fetch comes from recordings/providers.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any

import phonenumbers
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Min, Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from caly.foundation import metrics
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.tasks import backoff_seconds
from recordings import providers, signals, storage
from recordings.models import (
    CALL_ANSWERED,
    CALL_MISSED,
    E164,
    MISSED_STATUSES,
    Call,
    CallStatus,
    Direction,
    MissedCall,
    Recording,
    RecordingStatus,
)
from recordings.storage import RecordingTooLarge

logger = logging.getLogger("caly.recordings")
CALL_EDITABLE_FIELDS = ("is_resolved", "customer_satisfaction", "notes")


def call_create(*, client: Client, **fields: Any) -> Call:
    """Create a call after full validation; raises ValidationError."""
    call = Call(client=client, **fields)
    call.full_clean()
    call.save()
    signals.call_saved_on_commit(call=call, created=True)
    return call


@transaction.atomic
def call_update(*, call: Call, actor: User, **fields: Any) -> Call:
    """Mark resolved, rate satisfaction, write notes; audited with the old and new values."""
    changed = {}
    for name, value in fields.items():
        if name not in CALL_EDITABLE_FIELDS:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details={name: ["Read-only."]})
        if getattr(call, name) != value:
            changed[name] = {"old": str(getattr(call, name)), "new": str(value)}
            setattr(call, name, value)
    if changed:
        try:
            call.full_clean()
        except ValidationError as exc:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=exc.message_dict) from None
        call.save(update_fields=[*changed, "updated_at"])
        audit_record(action=AuditAction.CALL_UPDATED, client=call.client, actor=actor, target=call, metadata=changed)
        signals.call_saved_on_commit(call=call, created=False, fields=changed)
    return call


def _live_recording(call: Call) -> Recording:
    """The call's one live recording row, created if missing (race-safe through the unique constraint)."""
    existing = Recording.objects.filter(call=call).exclude(status=RecordingStatus.DELETED).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Recording.objects.create(client_id=call.client_id, call=call, started_at=call.started_at)
    except IntegrityError:
        return Recording.objects.filter(call=call).exclude(status=RecordingStatus.DELETED).get()


def recording_store(
    *,
    call: Call,
    stream: IO[bytes] | Iterable[bytes],
    content_type: str,
    source_url: str = "",
    duration_seconds: int | None = None,
    channels: int | None = None,
) -> Recording:
    """Stream a call's audio into storage (size and sha256 computed on the way) and record it.

    Idempotent: the same call always has one key and one live row. Raises the storage's error
    after marking the recording failed.
    """
    if not content_type.startswith("audio/"):
        # Local downloads are served from our own origin: only audio may be stored and served.
        raise DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"A recording must be audio, not {content_type!r}.")
    recording = _live_recording(call)
    key = storage.recording_key(
        client_public_id=call.client.public_id,
        call_public_id=call.public_id,
        started_at=call.started_at,
        content_type=content_type,
    )
    Recording.objects.filter(pk=recording.pk).update(
        status=RecordingStatus.FETCHING, attempts=F("attempts") + 1, source_url=source_url or recording.source_url
    )
    try:
        reader = storage.store_stream(key=key, stream=stream, content_type=content_type)
    except Exception as exc:
        Recording.objects.filter(pk=recording.pk).exclude(status=RecordingStatus.DELETED).update(
            status=RecordingStatus.FAILED, last_error=str(exc)[:2000]
        )
        logger.warning("Storing the recording of call %s failed: %s", call.public_id, exc)
        raise
    with transaction.atomic():
        recording = Recording.objects.select_for_update().get(pk=recording.pk)
        if recording.status == RecordingStatus.DELETED:  # deleted while we fetched: it stays deleted
            transaction.on_commit(lambda: _delete_object_logged(key))
            return recording
        if recording.storage_key and recording.storage_key != key:
            storage.delete_object(recording.storage_key)  # the content type (extension) changed
        recording.status = RecordingStatus.STORED
        recording.storage_key = key
        recording.content_type = content_type
        recording.size_bytes = reader.size_bytes
        recording.sha256 = reader.sha256
        recording.duration_seconds = duration_seconds
        recording.channels = channels
        recording.last_error = ""
        recording.stored_at = timezone.now()
        recording.save()
        Call.objects.filter(pk=call.pk).update(has_recording=True)
        signals.send_in_transaction(signals.recording_changed, Recording, recording=recording)
    return recording


def recording_source_url_set(*, recording: Recording, source_url: str) -> None:
    """Note where the provider keeps a recording that was queued without its URL."""
    Recording.objects.filter(pk=recording.pk).update(source_url=source_url)


@dataclass(frozen=True)
class FetchAttempt:
    recording: Recording | None
    retry_in_seconds: float | None = None  # set when the fetch is to be tried again


def recording_fetch(*, recording_id: int, attempt: int = 1) -> FetchAttempt:
    """Fetch the recording from its provider into storage (streamed): one attempt of the fetch task.

    Idempotent: a stored or deleted recording is left alone. A provider's outage or a storage error
    leaves it pending and says when to try again (the task queues that); refusals, and the last
    attempt, fail it.
    """
    recording = Recording.objects.select_related("call", "client").filter(pk=recording_id).first()
    if recording is None or recording.status in (RecordingStatus.STORED, RecordingStatus.DELETED):
        return FetchAttempt(recording)
    try:
        fetcher = providers.recording_fetcher(recording.call.provider)
    except providers.UnknownProvider as exc:
        return _fetch_failed(recording, str(exc))
    storing = False
    try:
        with fetcher(recording) as source:
            if Recording.objects.filter(pk=recording.pk, status=RecordingStatus.DELETED).exists():
                return FetchAttempt(recording)  # deleted while we connected: it stays deleted
            storing = True  # recording_store counts the attempt and keeps the error from here on
            stored = recording_store(
                call=recording.call,
                stream=source.chunks,
                content_type=source.content_type,
                source_url=source.source_url,
                duration_seconds=recording.call.duration_seconds or None,
            )
            return FetchAttempt(stored)
    except (providers.RecordingFetchRefused, RecordingTooLarge) as exc:
        return _fetch_failed(recording, str(exc), counted=storing)
    except providers.RecordingFetchUnavailable as exc:
        return _fetch_again(recording, attempt, str(exc), counted=storing, retry_after=exc.retry_after)
    except DomainError as exc:  # recording_store refuses what is not audio
        return _fetch_failed(recording, exc.message, counted=storing)
    except Exception as exc:  # storage (S3) down, a stream cut mid-way: try again later
        logger.warning("Fetching recording %s failed: %s", recording.public_id, exc)
        return _fetch_again(recording, attempt, f"Storing the recording failed: {type(exc).__name__}", counted=storing)


def _fetch_failed(recording: Recording, message: str, *, counted: bool = False) -> FetchAttempt:
    metrics.record_fetch_failure(recording.call.provider)
    updates = {"status": RecordingStatus.FAILED, "last_error": message[:2000], "updated_at": timezone.now()}
    if not counted:
        updates["attempts"] = F("attempts") + 1
    Recording.objects.filter(pk=recording.pk).exclude(status=RecordingStatus.DELETED).update(**updates)
    logger.error("Recording %s of call %s failed: %s", recording.public_id, recording.call.public_id, message)
    recording.refresh_from_db()
    if recording.status == RecordingStatus.FAILED:
        signals.send_in_transaction(signals.recording_changed, Recording, recording=recording)
    return FetchAttempt(recording)


def _fetch_again(
    recording: Recording, attempt: int, message: str, *, counted: bool, retry_after: float | None = None
) -> FetchAttempt:
    if attempt >= settings.TASK_MAX_ATTEMPTS:
        return _fetch_failed(recording, f"Gave up after {attempt} attempts: {message}", counted=counted)
    metrics.record_fetch_failure(recording.call.provider)
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
    recording.refresh_from_db()
    return FetchAttempt(recording, retry_in_seconds=delay)


@transaction.atomic
def recording_delete(*, recording: Recording, actor: User | None, reason: str = "deleted") -> Recording:
    """Soft-delete the row and remove the object; audited."""
    recording = Recording.objects.select_for_update().select_related("client").get(pk=recording.pk)
    if recording.status == RecordingStatus.DELETED:
        return recording
    key = recording.storage_key
    recording.status = RecordingStatus.DELETED
    recording.deleted_at = timezone.now()
    recording.save(update_fields=["status", "deleted_at", "updated_at"])
    Call.objects.filter(pk=recording.call_id).update(has_recording=False)
    audit_record(
        action=AuditAction.RECORDING_DELETED,
        client=recording.client,
        actor=actor,
        target=recording,
        metadata={"reason": reason},
    )
    transaction.on_commit(lambda: _delete_object_logged(key))
    return recording


def _delete_object_logged(key: str) -> None:
    """The row already says deleted; a storage outage must not turn that into an error for the caller."""
    try:
        storage.delete_object(key)
    except Exception:
        logger.exception("Could not remove recording object %s; it is orphaned and must be removed later", key)


PLAY_AUDIT_WINDOW_SECONDS = 600


def recording_download_record(*, recording: Recording, actor: User, disposition: str) -> None:
    """Audit a play or download once per user, recording and 10 minutes, whatever Range the player sends."""
    if cache.add(f"recording-play:{actor.pk}:{recording.pk}:{disposition}", 1, timeout=PLAY_AUDIT_WINDOW_SECONDS):
        audit_record(
            action=AuditAction.RECORDING_DOWNLOADED,
            client=recording.client,
            actor=actor,
            target=recording,
            metadata={"disposition": disposition},
        )


def calls_export_record(*, client: Client, actor: User, filters: dict[str, Any]) -> None:
    """Audit a CSV export of calls with the filters it used."""
    audit_record(
        action=AuditAction.CALLS_EXPORTED,
        client=client,
        actor=actor,
        metadata={name: str(value) for name, value in filters.items() if value not in (None, "")},
    )


def recordings_expired(*, now=None):
    """Live recordings older than their client's retention period."""
    now = now or timezone.now()
    expired = Q()
    for client_id, days in Client.objects.filter(recording_retention_days__isnull=False).values_list(
        "id", "recording_retention_days"
    ):
        expired |= Q(client_id=client_id, started_at__lt=now - timedelta(days=days))
    if not expired:
        return Recording.objects.none()
    return Recording.objects.filter(expired).exclude(status=RecordingStatus.DELETED).select_related("client")


def recordings_purge_expired(*, dry_run: bool, now=None) -> dict[str, int]:
    """Delete recordings past retention (or only count them); returns counts."""
    counts = {"expired": 0, "deleted": 0, "failed": 0}
    for recording in recordings_expired(now=now).iterator(chunk_size=500):
        counts["expired"] += 1
        if dry_run:
            continue
        try:
            recording_delete(recording=recording, actor=None, reason="retention")
            counts["deleted"] += 1
        except Exception:
            counts["failed"] += 1
            logger.exception("Retention could not delete recording %s", recording.public_id)
    logger.info("Recording retention %s: %s", "dry run" if dry_run else "run", counts)
    return counts


# --- masking a person's number (a privacy erasure) ----------------------------------------------

MASK_KEEP_DIGITS = 4


def number_masked(number: str) -> str:
    """+919876543210 → +XXXXXXXX3210: the last digits kept, the length too; never a dialable number."""
    digits = number.lstrip("+")
    return "+" + "X" * (len(digits) - MASK_KEEP_DIGITS) + digits[-MASK_KEEP_DIGITS:]


def _number_forms(number: str) -> list[str]:
    """The ways a number may be written in notes: E.164 and its national significant number."""
    forms = [number]
    try:
        national = str(phonenumbers.parse(number).national_number)
    except phonenumbers.NumberParseException:
        national = ""
    if len(national) >= 6:
        forms.append(national)
    return forms


@transaction.atomic
def calls_number_mask(*, client: Client, numbers: Iterable[str]) -> int:
    """Mask each of `numbers` (E.164) on the client's calls: as the caller or the called number, and wherever
    the notes, the transcript or the call's metadata mention it (E.164 or national digits). Returns how many
    calls changed; masking again changes none."""
    wanted = {number for number in numbers if E164.fullmatch(number or "")}
    if not wanted:
        return 0
    patterns = {
        number: re.compile("|".join(rf"(?<![0-9]){re.escape(form)}(?![0-9])" for form in _number_forms(number)))
        for number in wanted
    }
    mentioned = Q(from_number__in=wanted) | Q(to_number__in=wanted)
    for number in wanted:
        for form in _number_forms(number):
            mentioned |= Q(notes__contains=form) | Q(transcript__contains=form)
    calls = Call.objects.for_client(client).filter(mentioned)
    changed = 0
    for call in calls.select_for_update().order_by("pk"):
        before = (call.from_number, call.to_number, call.notes, call.transcript, call.metadata)
        for number, pattern in patterns.items():
            masked = number_masked(number)
            if call.from_number == number:
                call.from_number = masked
            if call.to_number == number:
                call.to_number = masked
            call.notes = pattern.sub(masked, call.notes)
            call.transcript = pattern.sub(masked, call.transcript)
            if isinstance(call.metadata, dict):
                call.metadata = {
                    key: pattern.sub(masked, value) if isinstance(value, str) else value
                    for key, value in call.metadata.items()
                }
        if (call.from_number, call.to_number, call.notes, call.transcript, call.metadata) != before:
            call.save(update_fields=["from_number", "to_number", "notes", "transcript", "metadata", "updated_at"])
            changed += 1
    for number in wanted:  # a masked number cannot be rung back
        missed_calls_refresh(client_id=client.pk, number=number)
    return changed


# --- agents --------------------------------------------------------------------------------------


def calls_agent_link(*, client: Client, agent: User, number: str) -> int:
    """Attribute to `agent` the client's calls that no member was attributed to and that `number` took
    (a number registered after its calls came in). Reads only those calls (a partial index); returns how many."""
    return (
        Call.objects.for_client(client)
        .filter(agent__isnull=True, agent_number=number)
        .exclude(agent_number="")
        .update(agent=agent, updated_at=timezone.now())
    )


def phone_registered_received(sender, *, phone, **kwargs) -> None:
    """accounts.signals.phone_registered: the new number's earlier calls become its member's."""
    calls_agent_link(client=phone.client, agent=phone.user, number=phone.number)


# --- missed calls to ring back -------------------------------------------------------------------

# A change of any other field of a call leaves its number's missed calls as they were.
MISSED_CALL_FIELDS = frozenset({"status", "direction", "from_number", "to_number", "started_at", "answered_at"})


def customer_number(call: Call) -> str:
    """The other party's number: the caller of an inbound call, the called number of an outbound one."""
    return call.from_number if call.direction == Direction.INBOUND else call.to_number


def missed_calls_refresh(*, client_id: int, number: str) -> MissedCall | None:
    """Recount the number's missed calls since its last answered call (either direction) into its MissedCall
    row, deleting the row when there are none. Reads the calls with that number only (their indexes), so it
    is the same work at 1M calls; idempotent and independent of the order calls arrive in."""
    rows = MissedCall.objects.for_client(client_id).filter(number=number)
    if not E164.fullmatch(number or ""):
        rows.delete()
        return None
    calls = Call.objects.for_client(client_id)
    last_answered = (
        calls.filter(CALL_ANSWERED)
        .filter(Q(from_number=number) | Q(to_number=number))
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    missed = calls.filter(CALL_MISSED, from_number=number)
    if last_answered is not None:
        missed = missed.filter(started_at__gt=last_answered)
    latest = missed.order_by("-started_at", "-id").first()
    if latest is None:
        rows.delete()
        return None
    figures = missed.aggregate(attempts=Count("id"), first=Min("started_at"))
    fields = {
        "call": latest,
        "last_missed_at": latest.started_at,
        "first_missed_at": figures["first"],
        "attempts": figures["attempts"],
    }
    try:
        with transaction.atomic():
            row, _ = MissedCall.objects.update_or_create(client_id=client_id, number=number, defaults=fields)
    except IntegrityError:  # a concurrent save created the row a moment ago
        rows.update(**fields, updated_at=timezone.now())
        row = rows.get()
    return row


def call_saved_received(sender, *, instance: Call, created: bool, update_fields=None, raw: bool = False, **kwargs):
    """post_save of a Call, whoever saved it: keep its number's missed calls in step."""
    if raw or (update_fields is not None and not MISSED_CALL_FIELDS & set(update_fields)):
        return
    missed_calls_refresh(client_id=instance.client_id, number=customer_number(instance))


def missed_calls_rebuild(*, client: Client) -> int:
    """Recount the client's numbers to ring back from all its calls, after calls were written in bulk (which
    sends no post_save: demo data, benchmarks). One pass over the calls in time order, streamed, with the same
    rules as missed_calls_refresh; returns how many numbers have missed calls to ring back."""
    pending: dict[str, list] = {}  # number -> [latest call id, latest start, first start, attempts]
    calls = (
        Call.objects.for_client(client)
        .order_by("started_at", "id")
        .values_list("id", "direction", "status", "answered_at", "from_number", "to_number", "started_at")
    )
    for call_id, direction, status, answered_at, from_number, to_number, started_at in calls.iterator(5000):
        if status == CallStatus.COMPLETED and answered_at is not None:
            pending.pop(from_number, None)
            pending.pop(to_number, None)
        elif direction == Direction.INBOUND and status in MISSED_STATUSES and E164.fullmatch(from_number):
            row = pending.setdefault(from_number, [call_id, started_at, started_at, 0])
            row[0], row[1], row[3] = call_id, started_at, row[3] + 1
    with transaction.atomic():
        MissedCall.objects.for_client(client).delete()
        MissedCall.objects.bulk_create(
            [
                MissedCall(
                    client=client,
                    number=number,
                    call_id=call_id,
                    last_missed_at=last,
                    first_missed_at=first,
                    attempts=attempts,
                )
                for number, (call_id, last, first, attempts) in pending.items()
            ],
            batch_size=5000,
        )
    return len(pending)
