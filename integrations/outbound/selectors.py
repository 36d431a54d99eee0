"""Reads of outbound webhooks: endpoints, their delivery logs."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts.models import Client
from integrations.outbound.models import OutboundAttempt, OutboundDelivery, WebhookEndpoint

RECENT_DELIVERIES = 20


def endpoint_list(*, client: Client) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.for_client(client).order_by("-created_at", "-id")


def _with_log(deliveries: QuerySet[OutboundDelivery]) -> QuerySet[OutboundDelivery]:
    return deliveries.select_related("endpoint", "event").prefetch_related(
        Prefetch("attempt_log", queryset=OutboundAttempt.objects.order_by("number"))
    )


def delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[OutboundDelivery]:
    """An endpoint's deliveries with their events and attempts (order them: the paginator does)."""
    return _with_log(OutboundDelivery.objects.for_client(endpoint.client_id).filter(endpoint=endpoint))


def delivery_get(*, delivery: OutboundDelivery) -> OutboundDelivery:
    return _with_log(OutboundDelivery.objects.filter(pk=delivery.pk)).get()


def deliveries_recent(*, client: Client, limit: int = RECENT_DELIVERIES) -> list[OutboundDelivery]:
    """The client's latest deliveries to any endpoint, newest first, each with its `last_attempt` (or None)."""
    deliveries = list(_with_log(OutboundDelivery.objects.for_client(client)).order_by("-created_at", "-id")[:limit])
    for delivery in deliveries:
        attempts = list(delivery.attempt_log.all())
        delivery.last_attempt = attempts[-1] if attempts else None
    return deliveries
