"""What becomes an outbound event: recordings' signals for calls and recordings, and the Shopify linking
for `customer.linked`. Each payload's `data` is what the API returns for that object, from the API's own
serializers (recordings/api/serializers.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

from integrations.outbound import services
from recordings.api.serializers import CallDetailSerializer, RecordingSerializer
from recordings.models import Call, CallStatus, Recording, RecordingStatus

logger = logging.getLogger("caly.outbound")

TERMINAL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED}
)
RECORDING_EVENTS = {RecordingStatus.STORED: "recording.stored", RecordingStatus.FAILED: "recording.failed"}


def call_event_types(*, call: Call, created: bool, fields: Iterable[str]) -> list[str]:
    """call.created for a new call, call.updated for a change; call.completed once it reaches an end."""
    types = ["call.created"] if created else ["call.updated"]
    if call.status in TERMINAL_STATUSES and (created or "status" in fields):
        types.append("call.completed")
    return types


def call_changed_received(sender: type[Call], *, call: Call, created: bool, fields: Iterable[str], **kwargs) -> None:
    """recordings' `call_changed`: the call's events, in a savepoint of the write's transaction."""
    with transaction.atomic():
        services.events_emit(
            client_id=call.client_id,
            event_types=call_event_types(call=call, created=created, fields=fields),
            object_id=call.public_id,
            data=lambda: CallDetailSerializer(Call.objects.prefetch_related("recordings").get(pk=call.pk)).data,
        )


def recording_changed_received(sender: type[Recording], *, recording: Recording, **kwargs) -> None:
    """recordings' `recording_changed`: recording.stored or recording.failed."""
    event_type = RECORDING_EVENTS.get(recording.status)
    if event_type is None:
        return
    with transaction.atomic():
        services.events_emit(
            client_id=recording.client_id,
            event_types=[event_type],
            object_id=recording.public_id,
            data=lambda: RecordingSerializer(Recording.objects.select_related("call").get(pk=recording.pk)).data,
        )


def customer_linked(*, client_id: int, call_ids: Iterable[int]) -> None:
    """`customer.linked` for each of these calls (which just gained a customer): the call's id, how it was
    matched and its customer, exactly as the call's detail shows them."""
    ids = sorted(set(call_ids))
    if not ids or not services.subscribers(client_id=client_id).get("customer.linked"):
        return
    for call in Call.objects.for_client(client_id).filter(pk__in=ids).prefetch_related("recordings"):
        services.events_emit(
            client_id=client_id,
            event_types=["customer.linked"],
            object_id=call.public_id,
            data=lambda call=call: _customer_part(CallDetailSerializer(call).data),
        )


def _customer_part(detail: dict) -> dict:
    return {"call_id": detail["id"], "customer_match": detail["customer_match"], "customer": detail["customer"]}
