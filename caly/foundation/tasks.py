"""Enqueueing helpers shared by every app's tasks (django-tasks).

- `enqueue_with_transaction`: on the database queue the task row is written in the caller's
  transaction, so what is acknowledged is durably queued and a rollback queues nothing. Backends
  outside the database (the immediate one in tests and demos) run it after commit instead.
- `retry_later`: schedule another attempt after a delay (backoff); backends that cannot defer
  run it at once, which keeps tests and demos working with the same code.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends

logger = logging.getLogger("caly.tasks")


def _backend():
    return task_backends[DEFAULT_TASK_BACKEND_ALIAS]


def queue_is_database() -> bool:
    return type(_backend()).__module__.startswith("django_tasks_db")


def enqueue_with_transaction(task, *args, **kwargs) -> None:
    if queue_is_database():
        task.enqueue(*args, **kwargs)
    else:
        transaction.on_commit(lambda: task.enqueue(*args, **kwargs))


def backoff_seconds(attempt: int, *, retry_after: float | None = None) -> float:
    """Seconds before attempt `attempt + 1`: base × 2^(attempt-1), capped; a provider's Retry-After wins when longer."""
    delay = min(settings.TASK_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0), settings.TASK_RETRY_MAX_SECONDS)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.TASK_RETRY_MAX_SECONDS))
    return delay


def retry_later(task, *args, delay_seconds: float, **kwargs) -> None:
    """Enqueue another run of `task` in `delay_seconds` (after the current transaction commits)."""

    def enqueue():
        if _backend().supports_defer:
            task.using(run_after=timezone.now() + timedelta(seconds=delay_seconds)).enqueue(*args, **kwargs)
        else:
            task.enqueue(*args, **kwargs)

    logger.info("Retrying %s in %.0f s", task.name, delay_seconds)
    transaction.on_commit(enqueue)
