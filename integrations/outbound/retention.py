"""How long outbound webhook events and their delivery log are kept: WEBHOOK_RETENTION_DAYS, like the inbox's."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from integrations.outbound.models import DeliveryStatus, OutboundDelivery, OutboundEvent


def events_prune(*, now: datetime | None = None) -> int:
    """Delete events (with their deliveries and attempts) created more than WEBHOOK_RETENTION_DAYS ago and no
    longer being delivered; returns how many events went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    old = OutboundEvent.objects.filter(created_at__lt=cutoff).exclude(deliveries__status=DeliveryStatus.PENDING)
    deleted = 0
    while True:  # in batches: a large backlog never holds one huge delete
        ids = list(old.values_list("pk", flat=True)[:2000])
        if not ids:
            return deleted
        OutboundDelivery.objects.filter(event_id__in=ids).delete()
        deleted += OutboundEvent.objects.filter(pk__in=ids).delete()[0]
