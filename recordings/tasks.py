"""Background tasks of recordings (django-tasks; run by `manage.py db_worker`)."""

from django_tasks import task

from caly.foundation.tasks import retry_later
from recordings import csv_export, services


@task()
def fetch_recording(recording_id: int, attempt: int = 1) -> str | None:
    """One attempt at fetching a recording from its provider; queues the next one when the attempt says so.

    The attempt number runs along the retries, so a recording's lifetime `attempts` counter and a run
    of tries stay separate (a retry by hand starts a fresh run).
    """
    fetched = services.recording_fetch(recording_id=recording_id, attempt=attempt)
    if fetched.retry_in_seconds is not None:
        retry_later(fetch_recording, recording_id, attempt=attempt + 1, delay_seconds=fetched.retry_in_seconds)
    return fetched.recording.status if fetched.recording is not None else None


@task()
def purge_expired_recordings() -> dict[str, int]:
    """Delete recordings past their client's retention period, for real (no dry run); returns the counts
    (expired, deleted, failed).

    Nothing enqueues this by itself: a scheduler or cron enqueues it once a day, e.g.
    `python manage.py shell -c "from recordings.tasks import purge_expired_recordings as t; t.enqueue()"`,
    and the worker runs it. `manage.py purge_expired_recordings --apply` does the same in the foreground.
    """
    return services.recordings_purge_expired(dry_run=False)


@task()
def export_calls(export_id: int) -> str:
    """Write a large calls export to storage (recordings/csv_export.py); returns its status."""
    return csv_export.call_export_run(export_id=export_id)


@task()
def purge_expired_exports() -> int:
    """Delete calls exports past their expiry, with their files; returns how many (the scheduler runs it hourly)."""
    return csv_export.call_exports_purge_expired()
