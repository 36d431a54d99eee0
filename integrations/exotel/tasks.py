"""Background tasks of the Exotel integration (django-tasks; `manage.py db_worker`).

Each takes ids and calls a service; a look-up that is to be tried again is queued again from here,
with the attempt number passed along.
"""

from django_tasks import task

from caly.foundation.tasks import retry_later
from integrations.exotel import reconcile, stuck
from recordings import tasks as recordings_tasks


@task()
def reconcile_call(call_id: int, attempt: int = 1) -> str | None:
    reconciled = reconcile.exotel_call_reconcile(call_id=call_id, attempt=attempt)
    if reconciled.look_again:
        retry_later(reconcile_call, call_id, attempt=attempt + 1, delay_seconds=reconcile.RECONCILE_DELAY_SECONDS)
    return reconciled.call.status if reconciled.call is not None else None


@task()
def sweep_stuck_calls() -> dict:
    """Scheduled: ask Exotel about calls left queued, ringing or in progress (integrations/exotel/stuck.py)."""
    return stuck.exotel_stuck_calls_sweep().as_dict()


# Fetches queued before recordings took them over name this path in their queue rows. Remove it once
# no READY or RUNNING row has task_path "integrations.exotel.tasks.fetch_recording": a run of retries
# lasts at most TASK_MAX_ATTEMPTS × TASK_RETRY_MAX_SECONDS (6 hours) after the deploy.
@task()
def fetch_recording(recording_id: int, attempt: int = 1) -> str | None:
    return recordings_tasks.fetch_recording.call(recording_id, attempt)
