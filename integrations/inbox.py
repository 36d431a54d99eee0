"""The webhook inbox shared by every provider: receive (store, then acknowledge) and process.

Receiving = the provider's view verifies the delivery, then calls `webhook_receive`, which inserts
the event (a duplicate inserts nothing) and queues its processing in the same transaction. The
worker runs `webhook_process`: the provider's handler does the work inside a transaction holding
the event's row lock, so a crash or an error leaves nothing half-done, and a processed event is
never processed again. Failures are retried with backoff up to settings.TASK_MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import Client
from caly.foundation import metrics
from caly.foundation.tasks import backoff_seconds, enqueue_with_transaction, retry_later
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


def webhook_receive(
    *,
    client: Client,
    provider: str,
    dedupe_key: str,
    topic: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    content_type: str = "",
) -> tuple[WebhookEvent, bool]:
    """Store a verified delivery and queue its processing; (event, created). A duplicate is (existing, False)."""
    event = WebhookEvent(
        client=client,
        provider=provider,
        dedupe_key=f"{client.public_id}:{dedupe_key}"[:300],
        topic=topic[:100],
        body=body,
        headers=dict(headers or {}),
        content_type=content_type[:200],
    )
    with transaction.atomic():
        event.pk = _insert_unless_duplicate(event)
        if event.pk is None:
            metrics.record_webhook(provider, "duplicate")
            return WebhookEvent.objects.get(provider=provider, dedupe_key=event.dedupe_key), False
        from integrations.tasks import process_webhook_event

        enqueue_with_transaction(process_webhook_event, event.pk)
    event._state.adding = False
    metrics.record_webhook(provider, "received")
    return event, True


def _insert_unless_duplicate(event: WebhookEvent) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when the delivery is stored already.

    One statement where a savepoint around a plain INSERT took three round trips (SAVEPOINT, INSERT,
    RELEASE) and a rollback for every duplicate. A concurrent copy of the same delivery waits for the
    first one's transaction and then inserts nothing. (bulk_create(ignore_conflicts=True) cannot return
    the id on PostgreSQL.) Works on SQLite 3.35+ as well.
    """
    meta = WebhookEvent._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    connection = connections[router.db_for_write(WebhookEvent)]
    values = [f.get_db_prep_save(f.pre_save(event, add=True), connection) for f in fields]
    quote = connection.ops.quote_name
    unique = next(c for c in meta.constraints if c.name == "integrations_webhook_unique_dedupe")
    statement = (  # identifiers from the model's _meta; every value is a parameter
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"  # noqa: S608
        f" VALUES ({', '.join(['%s'] * len(fields))})"
        f" ON CONFLICT ({', '.join(quote(meta.get_field(name).column) for name in unique.fields)}) DO NOTHING"
        f" RETURNING {quote(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        row = cursor.fetchone()
    return row[0] if row else None


def webhook_process(event_id: int) -> str | None:
    """Run the provider's handler for one event; returns the status it ended in (None: no such event)."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().select_related("client").filter(pk=event_id).first()
            if event is None:
                return None
            if event.status in FINAL:
                return event.status
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
        return outcome
    except RefusedEvent as exc:
        return _refused(event_id, exc)
    except Exception as exc:
        return _failed(event_id, exc)


def _refused(event_id: int, exc: RefusedEvent) -> str:
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
    return event.status


def _failed(event_id: int, exc: Exception) -> str:
    permanent = isinstance(exc, PermanentError)
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        event.attempts += 1
        event.status = WebhookStatus.FAILED
        event.last_error = f"{type(exc).__name__}: {exc}"[:4000]
        event.next_attempt_at = None
        if not permanent and event.attempts < settings.TASK_MAX_ATTEMPTS:
            delay = backoff_seconds(event.attempts)
            event.next_attempt_at = timezone.now() + timedelta(seconds=delay)
            from integrations.tasks import process_webhook_event

            retry_later(process_webhook_event, event.pk, delay_seconds=delay)
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
    return event.status


def webhook_reprocess(*, events, actor=None) -> int:
    """Queue failed or ignored events again (admin action), audited per event; processed events are left alone."""
    from accounts.audit import audit_record
    from accounts.models import AuditAction
    from integrations.tasks import process_webhook_event

    count = 0
    with transaction.atomic():
        pending = events.select_for_update(of=("self",)).exclude(status=WebhookStatus.PROCESSED)
        for event in pending.select_related("client").order_by("pk"):
            previous = event.status
            event.status = WebhookStatus.RECEIVED
            event.next_attempt_at = None
            event.save(update_fields=["status", "next_attempt_at"])
            audit_record(
                action=AuditAction.WEBHOOK_REPROCESSED,
                client=event.client,
                actor=actor,
                target=event,
                metadata={"provider": event.provider, "topic": event.topic, "previous_status": previous},
            )
            enqueue_with_transaction(process_webhook_event, event.pk)
            count += 1
    return count


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
