"""Background tasks of the integrations shared by every provider (django-tasks; `manage.py db_worker`)."""

from django_tasks import task

from caly.foundation.tasks import retry_later
from integrations import processing


@task()
def process_webhook_event(event_id: int) -> str | None:
    """Process one event; a failure worth retrying queues this task again after the attempt's backoff."""
    attempt = processing.webhook_process(event_id)
    if attempt.retry_in_seconds is not None:
        retry_later(process_webhook_event, event_id, delay_seconds=attempt.retry_in_seconds)
    return attempt.status


@task()
def prune_webhook_events() -> int:
    """Enqueued once a day by a scheduler or cron; `manage.py prune_webhook_events --apply` does the same."""
    return processing.webhook_events_prune(dry_run=False)
