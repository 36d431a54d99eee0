"""The worker's side of the webhook inbox (integrations/inbox.py): process an event, prune old ones.

The worker runs `webhook_process`: the provider's handler does the work inside a transaction holding
the event's row lock, so a crash or an error leaves nothing half-done, and a processed event is
never processed again. A failure says when to try again (backoff, up to settings.TASK_MAX_ATTEMPTS);
the task integrations.tasks.process_webhook_event queues that retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from caly.foundation import metrics
from caly.foundation.tasks import backoff_seconds
from integrations.models import WebhookEvent, WebhookProvider, WebhookStatus

logger = logging.getLogger("caly.webhooks")

# provider -> "module.function" taking a locked WebhookEvent and returning a final WebhookStatus
# (PROCESSED or IGNORED); raising means "try again later", except PermanentError and RefusedEvent.
HANDLERS: dict[str, str] = {
    WebhookProvider.EXOTEL: "integrations.exotel.processing.handle_event",
    WebhookProvider.SHOPIFY: "integrations.shopify.processing.handle_event",
}
FINAL = (WebhookStatus.PROCESSED, WebhookStatus.IGNORED, WebhookStatus.REFUSED)


class PermanentError(Exception):
    """A handler's verdict that retrying cannot help (malformed payload): the event fails at once."""


class RefusedEvent(Exception):
    """A handler's verdict that the provider contradicts the event (the product it deletes still exists):
    nothing is done, and the event ends REFUSED with the reason, for staff and the client to see."""


@dataclass(frozen=True)
class WebhookAttempt:
    status: str | None  # None: no such event
    retry_in_seconds: float | None = None  # set when the event is to be processed again


def webhook_process(event_id: int) -> WebhookAttempt:
    """Run the provider's handler for one event; returns the status it ended in and when to try again, if at all."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().select_related("client").filter(pk=event_id).first()
            if event is None:
                return WebhookAttempt(None)
            if event.status in FINAL:
                return WebhookAttempt(event.status)
            event.attempts += 1
            handler = import_string(HANDLERS[event.provider])
            with transaction.atomic():  # the handler's writes commit or roll back together
                outcome = handler(event)
            event.status = outcome
            event.last_error = ""
            event.next_attempt_at = None
            event.processed_at = timezone.now()
            event.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "processed_at"])
        metrics.record_webhook(event.provider, outcome)
        return WebhookAttempt(outcome)
    except RefusedEvent as exc:
        return _refused(event_id, exc)
    except Exception as exc:
        return _failed(event_id, exc)


def _refused(event_id: int, exc: RefusedEvent) -> WebhookAttempt:
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        event.attempts += 1
        event.status = WebhookStatus.REFUSED
        event.last_error = str(exc)[:4000]
        event.next_attempt_at = None
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "processed_at"])
    metrics.record_webhook(event.provider, WebhookStatus.REFUSED)
    logger.warning("Webhook event %s (%s %s) refused: %s", event.public_id, event.provider, event.topic, exc)
    return WebhookAttempt(event.status)


def _failed(event_id: int, exc: Exception) -> WebhookAttempt:
    permanent = isinstance(exc, PermanentError)
    delay = None
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        event.attempts += 1
        event.status = WebhookStatus.FAILED
        event.last_error = f"{type(exc).__name__}: {exc}"[:4000]
        event.next_attempt_at = None
        if not permanent and event.attempts < settings.TASK_MAX_ATTEMPTS:
            delay = backoff_seconds(event.attempts)
            event.next_attempt_at = timezone.now() + timedelta(seconds=delay)
        event.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    metrics.record_webhook(event.provider, "retried" if event.next_attempt_at else "failed")
    log = logger.warning if event.next_attempt_at else logger.error
    log(
        "Webhook event %s (%s %s) failed on attempt %s%s: %s",
        event.public_id,
        event.provider,
        event.topic,
        event.attempts,
        f", retrying at {event.next_attempt_at:%H:%M:%S}" if event.next_attempt_at else ", giving up",
        event.last_error,
    )
    return WebhookAttempt(event.status, retry_in_seconds=delay)


def webhook_events_prune(*, dry_run: bool, now=None) -> int:
    """Delete events received more than WEBHOOK_RETENTION_DAYS ago; returns how many (would be) deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_RETENTION_DAYS)
    old = WebhookEvent.objects.filter(received_at__lt=cutoff)
    if dry_run:
        return old.count()
    deleted = 0
    while True:  # in batches: a large backlog never holds one huge delete
        ids = list(old.values_list("pk", flat=True)[:5000])
        if not ids:
            break
        deleted += WebhookEvent.objects.filter(pk__in=ids).delete()[0]
    logger.info("Pruned %s webhook events received before %s", deleted, cutoff.isoformat())
    return deleted
