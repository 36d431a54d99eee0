"""The webhook inbox shared by every provider: receive (store, then acknowledge) and queue for processing.

Receiving = the provider's view verifies the delivery, then calls `webhook_receive`, which inserts
the event (a duplicate inserts nothing) and queues its processing in the same transaction. The
worker's side, processing and its retries, is integrations/processing.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connections, router, transaction

from accounts.audit import audit_record
from accounts.models import AuditAction, Client
from caly.foundation import metrics
from caly.foundation.tasks import enqueue_with_transaction
from integrations import tasks
from integrations.models import WebhookEvent, WebhookStatus


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
        enqueue_with_transaction(tasks.process_webhook_event, event.pk)
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


def webhook_reprocess(*, events, actor=None) -> int:
    """Queue failed or ignored events again (admin action), audited per event; processed events are left alone."""
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
            enqueue_with_transaction(tasks.process_webhook_event, event.pk)
            count += 1
    return count
