"""Background tasks of the Exotel integration (django-tasks; `manage.py db_worker`).

Each takes ids and calls a service; the services schedule their own retries with backoff, with the
attempt number passed along, so a recording's lifetime `attempts` counter and a run of tries stay
separate (a retry from the admin starts a fresh run).
"""

from django_tasks import task

from integrations.exotel import services


@task()
def fetch_recording(recording_id: int, attempt: int = 1) -> str | None:
    recording = services.recording_fetch(recording_id=recording_id, attempt=attempt)
    return recording.status if recording is not None else None


@task()
def reconcile_call(call_id: int, attempt: int = 1) -> str | None:
    call = services.exotel_call_reconcile(call_id=call_id, attempt=attempt)
    return call.status if call is not None else None
