"""Background work of outbound webhooks (django-tasks; run by `manage.py db_worker`)."""

from django_tasks import task

from caly.foundation.tasks import retry_later
from integrations.outbound import retention, sending


@task()
def deliver_webhook(delivery_id: int, attempt: int = 1) -> None:
    """One attempt of a delivery; queues the next one when the attempt failed and the schedule has more."""
    delay = sending.delivery_attempt(delivery_id=delivery_id, attempt=attempt)
    if delay is not None:
        retry_later(deliver_webhook, delivery_id, attempt=attempt + 1, delay_seconds=delay)


@task()
def prune_outbound_events() -> int:
    """Enqueued once a day by the scheduler: outbound events past WEBHOOK_RETENTION_DAYS, with their log."""
    return retention.events_prune()
