"""Queueing a recording's fetch: a provider's URL noted, a retry by hand; each queues recordings.tasks.fetch_recording.

The fetch itself (recordings.services.recording_fetch) sits below the task that runs it; these sit
above it, so the two never import each other.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.tasks import enqueue_with_transaction
from recordings import tasks
from recordings.models import Call, Recording, RecordingStatus


def recording_queue(*, call: Call, source_url: str) -> Recording | None:
    """Note the call's recording URL at its provider (a pending recording) and queue its fetch; idempotent.

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
        enqueue_with_transaction(tasks.fetch_recording, live.pk)
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
    enqueue_with_transaction(tasks.fetch_recording, recording.pk)
    return recording
