"""Background tasks of recordings (django-tasks; run by `manage.py db_worker`)."""

from django_tasks import task

from recordings import services


@task()
def purge_expired_recordings() -> dict[str, int]:
    """Delete recordings past their client's retention period, for real (no dry run); returns the counts
    (expired, deleted, failed).

    Nothing enqueues this by itself: a scheduler or cron enqueues it once a day, e.g.
    `python manage.py shell -c "from recordings.tasks import purge_expired_recordings as t; t.enqueue()"`,
    and the worker runs it. `manage.py purge_expired_recordings --apply` does the same in the foreground.
    """
    return services.recordings_purge_expired(dry_run=False)
