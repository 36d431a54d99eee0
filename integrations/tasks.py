"""Background tasks of the integrations shared by every provider (django-tasks; `manage.py db_worker`)."""

from django_tasks import task

from integrations import inbox


@task()
def process_webhook_event(event_id: int) -> str | None:
    return inbox.webhook_process(event_id)


@task()
def prune_webhook_events() -> int:
    """Enqueued once a day by a scheduler or cron; `manage.py prune_webhook_events --apply` does the same."""
    return inbox.webhook_events_prune(dry_run=False)
