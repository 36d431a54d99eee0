"""Writes of outbound webhooks: endpoints (create, change, enable and disable, rotate and reveal the secret,
delete), events with their deliveries, redeliveries and test events. Everything a person does to an endpoint
is in the audit log (never with the secret).

Emitting is cheap: one indexed read of the client's enabled endpoints and, only when one subscribes,
the event and its deliveries written in the caller's transaction with their tasks queued beside them;
nothing here waits on a receiver (integrations/outbound/sending.py does, in the worker).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.tasks import enqueue_with_transaction
from integrations.outbound import destinations, signing, tasks
from integrations.outbound.models import (
    EVENT_TYPES,
    MAX_DESCRIPTION_LENGTH,
    TEST_EVENT_TYPE,
    DeliveryStatus,
    DisabledReason,
    OutboundDelivery,
    OutboundEvent,
    WebhookEndpoint,
)

MAX_OVERLAP_HOURS = 7 * 24


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details={field: [message]})


def _clean_event_types(event_types: Iterable[str]) -> list[str]:
    chosen = list(event_types)
    unknown = sorted({str(name) for name in chosen} - set(EVENT_TYPES))
    if unknown:
        raise _invalid("event_types", f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}.")
    if not chosen:
        raise _invalid("event_types", "Choose at least one event type.")
    return [name for name in EVENT_TYPES if name in chosen]  # the known order, each once


def _clean_url(url: str) -> str:
    url = url.strip()
    problem = destinations.url_problem(url)
    if problem:
        raise _invalid("url", problem)
    return url


def _clean_description(description: str) -> str:
    description = " ".join(description.split())
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise _invalid("description", f"At most {MAX_DESCRIPTION_LENGTH} characters.")
    return description


def _save(endpoint: WebhookEndpoint, **kwargs: Any) -> None:
    try:
        endpoint.full_clean()
    except ValidationError as exc:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details=exc.message_dict) from None
    endpoint.save(**kwargs)


@transaction.atomic
def endpoint_create(
    *, client: Client, actor: User | None, url: str, event_types: Iterable[str], description: str = ""
) -> WebhookEndpoint:
    """A new endpoint, enabled, with a new secret (shown to its creator). Raises DomainError(VALIDATION_ERROR)
    for a URL Caly does not send to, unknown event types, a long description, or too many endpoints."""
    endpoint = WebhookEndpoint(
        client=client,
        url=_clean_url(url),
        description=_clean_description(description),
        event_types=_clean_event_types(event_types),
        secret=signing.secret_generate(),
        created_by=actor,
    )
    limit = settings.OUTBOUND_WEBHOOK_MAX_ENDPOINTS
    if WebhookEndpoint.objects.select_for_update().filter(client=client).count() >= limit:
        raise _invalid("url", f"A company has at most {limit} webhook endpoints; delete one first.")
    _save(endpoint)
    audit_record(
        action=AuditAction.WEBHOOK_ENDPOINT_CREATED,
        client=client,
        actor=actor,
        target=endpoint,
        metadata={"url": endpoint.url, "event_types": endpoint.event_types, "description": endpoint.description},
    )
    return endpoint


def _audit(action: AuditAction, endpoint: WebhookEndpoint, actor: User | None, **metadata: Any) -> None:
    audit_record(
        action=action, client=endpoint.client, actor=actor, target=endpoint, metadata={"url": endpoint.url, **metadata}
    )


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: User | None,
    url: str | None = None,
    description: str | None = None,
    event_types: Iterable[str] | None = None,
    enabled: bool | None = None,
) -> WebhookEndpoint:
    """Change what was given. Enabling clears the reason it was disabled and its failing streak; disabling
    by hand stops its pending deliveries. Audited: what changed (old and new), and enabling or disabling
    (each its own entry); a change to nothing writes nothing. Raises DomainError(VALIDATION_ERROR)."""
    endpoint = WebhookEndpoint.objects.select_for_update(of=("self",)).select_related("client").get(pk=endpoint.pk)
    wanted: dict[str, Any] = {}
    if url is not None:
        wanted["url"] = _clean_url(url)
    if description is not None:
        wanted["description"] = _clean_description(description)
    if event_types is not None:
        wanted["event_types"] = _clean_event_types(event_types)
    changed = {field: {"old": getattr(endpoint, field), "new": value} for field, value in wanted.items()}
    changed = {field: change for field, change in changed.items() if change["old"] != change["new"]}
    for field, change in changed.items():
        setattr(endpoint, field, change["new"])
    toggled = None
    if enabled is True and not endpoint.is_enabled:
        toggled = AuditAction.WEBHOOK_ENDPOINT_ENABLED, {"was_disabled": endpoint.disabled_reason}
        endpoint.is_enabled = True
        endpoint.disabled_reason, endpoint.disabled_message, endpoint.disabled_at = "", "", None
        endpoint.failing_since = None
    elif enabled is False and endpoint.is_enabled:
        toggled = AuditAction.WEBHOOK_ENDPOINT_DISABLED, {"reason": DisabledReason.MANUAL.value}
        endpoint.is_enabled = False
        endpoint.disabled_reason = DisabledReason.MANUAL
        endpoint.disabled_message = "Disabled by a user."
        endpoint.disabled_at = timezone.now()
        OutboundDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING, is_manual=False).update(
            status=DeliveryStatus.CANCELLED, next_attempt_at=None, last_error="The endpoint was disabled."
        )
    _save(endpoint)
    if changed:
        audit_record(
            action=AuditAction.WEBHOOK_ENDPOINT_UPDATED,
            client=endpoint.client,
            actor=actor,
            target=endpoint,
            metadata=changed,
        )
    if toggled:
        _audit(toggled[0], endpoint, actor, **toggled[1])
    return endpoint


@transaction.atomic
def endpoint_secret_rotate(
    *, endpoint: WebhookEndpoint, actor: User | None, overlap_hours: int = 24
) -> WebhookEndpoint:
    """A new secret; for `overlap_hours` deliveries are signed with the old one as well (both signatures,
    space-separated), so receivers can switch without missing one. Audited. Raises DomainError(VALIDATION_ERROR)."""
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise _invalid("overlap_hours", f"From 0 to {MAX_OVERLAP_HOURS} hours.")
    endpoint = WebhookEndpoint.objects.select_for_update(of=("self",)).select_related("client").get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret if overlap_hours else ""
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(hours=overlap_hours) if overlap_hours else None
    endpoint.secret = signing.secret_generate()
    _save(endpoint)
    expires = endpoint.previous_secret_expires_at
    _audit(
        AuditAction.WEBHOOK_SECRET_ROTATED,
        endpoint,
        actor,
        overlap_hours=overlap_hours,
        previous_secret_expires_at=expires.isoformat() if expires else None,
    )
    return endpoint


@transaction.atomic
def endpoint_secret_reveal(*, endpoint: WebhookEndpoint, actor: User | None) -> str:
    """The endpoint's signing secret, for `actor` to see; that they saw it is audited."""
    _audit(AuditAction.WEBHOOK_SECRET_REVEALED, endpoint, actor)
    return endpoint.secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, actor: User | None) -> None:
    """Delete the endpoint with its delivery log; nothing more is sent to it. Audited with how many
    deliveries went with it."""
    _, deleted = OutboundDelivery.objects.filter(endpoint=endpoint).delete()
    deliveries = deleted.get(OutboundDelivery._meta.label, 0)
    _audit(
        AuditAction.WEBHOOK_ENDPOINT_DELETED,
        endpoint,
        actor,
        event_types=endpoint.event_types,
        description=endpoint.description,
        deliveries=deliveries,
    )
    endpoint.delete()


# --- events ------------------------------------------------------------------------------------------


def _body(event_type: str, occurred_at: datetime, data: Any) -> str:
    timestamp = occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"type": event_type, "timestamp": timestamp, "data": data}, cls=DjangoJSONEncoder, separators=(",", ":")
    )


def _deliver(event: OutboundEvent, endpoint_ids: Iterable[int], *, manual: bool = False) -> list[OutboundDelivery]:
    deliveries = OutboundDelivery.objects.bulk_create(
        OutboundDelivery(client_id=event.client_id, endpoint_id=endpoint_id, event=event, is_manual=manual)
        for endpoint_id in endpoint_ids
    )
    for delivery in deliveries:
        enqueue_with_transaction(tasks.deliver_webhook, delivery.pk)
    return deliveries


def subscribers(*, client_id: int) -> dict[str, list[int]]:
    """Event type → the ids of the client's enabled endpoints that receive it (one indexed read); nothing for a
    deactivated client."""
    found: dict[str, list[int]] = {}
    endpoints = WebhookEndpoint.objects.for_client(client_id).filter(is_enabled=True, client__is_active=True)
    for endpoint_id, event_types in endpoints.values_list("id", "event_types"):
        for event_type in event_types:
            found.setdefault(event_type, []).append(endpoint_id)
    return found


def events_emit(
    *, client_id: int, event_types: Iterable[str], object_id: UUID | None, data: Callable[[], Any]
) -> list[OutboundEvent]:
    """For each type some enabled endpoint of the client subscribes to: an event (with `data()`, called
    once, as its payload) and a delivery to each such endpoint, in the caller's transaction. Nothing at
    all, and `data` not called, when nobody subscribes."""
    wanted = subscribers(client_id=client_id)
    types = [event_type for event_type in event_types if wanted.get(event_type)]
    if not types:
        return []
    payload = data()
    now = timezone.now()
    events = []
    with transaction.atomic():
        for event_type in types:
            event = OutboundEvent.objects.create(
                client_id=client_id,
                type=event_type,
                object_id=object_id,
                occurred_at=now,
                body=_body(event_type, now, payload),
            )
            _deliver(event, wanted[event_type])
            events.append(event)
    return events


@transaction.atomic
def endpoint_test_send(*, endpoint: WebhookEndpoint, actor: User | None) -> OutboundDelivery:
    """Send a `webhook.test` event to this endpoint only (even a disabled one, once); audited."""
    now = timezone.now()
    data = {"endpoint_id": str(endpoint.public_id), "message": "A test event sent from Caly on request."}
    event = OutboundEvent.objects.create(
        client_id=endpoint.client_id, type=TEST_EVENT_TYPE, occurred_at=now, body=_body(TEST_EVENT_TYPE, now, data)
    )
    [delivery] = _deliver(event, [endpoint.pk], manual=True)
    _audit(AuditAction.WEBHOOK_TEST_SENT, endpoint, actor, delivery_id=str(delivery.public_id))
    return delivery


@transaction.atomic
def delivery_redeliver(*, delivery: OutboundDelivery, actor: User | None) -> OutboundDelivery:
    """Send a delivery's event to its endpoint again, now: a new delivery with the same `webhook-id` and body.
    Audited on the delivery asked for, with the new one's id."""
    [again] = _deliver(delivery.event, [delivery.endpoint_id], manual=True)
    endpoint = delivery.endpoint
    audit_record(
        action=AuditAction.WEBHOOK_REDELIVERY_REQUESTED,
        client=endpoint.client,
        actor=actor,
        target=delivery,
        metadata={
            "url": endpoint.url,
            "endpoint_id": str(endpoint.public_id),
            "event_type": delivery.event.type,
            "webhook_id": delivery.event.webhook_id,
            "redelivery_id": str(again.public_id),
        },
    )
    return again
