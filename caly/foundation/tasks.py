"""Enqueueing helpers shared by every app's tasks (django-tasks).

- `enqueue_with_transaction`: on the database queue the task row is written in the caller's
  transaction, so what is acknowledged is durably queued and a rollback queues nothing. Backends
  outside the database (the immediate one in tests and demos) run it after commit instead.
- `retry_later`: schedule another attempt after a delay (backoff); backends that cannot defer
  run it at once, which keeps tests and demos working with the same code.

Request ids follow the work: whatever queues a task on the database queue (a request, a webhook, a
task retrying itself, a scheduler run) has its request id written into the task row as it is
inserted (`args_kwargs["context"]`, beside the arguments the task is called with), and the worker sets
that id around the task's run, so every log line the task writes carries it. A task queued with no id
(by a command) gets a fresh one when it runs. Tasks run at once (the immediate backend) simply keep the
id of whoever queued them.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks.signals import task_finished, task_started

from caly.foundation import context

logger = logging.getLogger("caly.tasks")
# Where a queued task row keeps the context it was queued in (beside "args" and "kwargs").
ROW_CONTEXT_KEY = "context"
# What each running task set (None: it kept its caller's), innermost last, to undo when it finishes.
_task_contexts: ContextVar[tuple] = ContextVar("caly_task_contexts", default=())


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


# --- request ids -------------------------------------------------------------------------------


@receiver(pre_save, sender="django_tasks_database.DBTaskResult", dispatch_uid="caly.foundation.tasks.carry_request_id")
def _carry_request_id(sender, instance, raw=False, **kwargs) -> None:
    """A task row being queued keeps the request id of whoever queues it (written in the same INSERT)."""
    request_id = context.current_request_id()
    if raw or not instance._state.adding or not request_id or not isinstance(instance.args_kwargs, dict):
        return
    instance.args_kwargs = {**instance.args_kwargs, ROW_CONTEXT_KEY: {"request_id": request_id}}


def queued_request_id(task_result) -> str | None:
    """The request id a queued task row carries (None when it was queued outside any request)."""
    row = getattr(task_result, "db_result", None)
    args_kwargs = getattr(row, "args_kwargs", None)
    carried = args_kwargs.get(ROW_CONTEXT_KEY) if isinstance(args_kwargs, dict) else None
    return carried.get("request_id") if isinstance(carried, dict) else None


@receiver(task_started, dispatch_uid="caly.foundation.tasks.task_started")
def _task_started(sender, task_result, **kwargs) -> None:
    """Set the request id of whoever queued the task for the task's run (a fresh one if none came with it)."""
    if getattr(task_result, "db_result", None) is not None:
        # A worker runs one task at a time: one whose end was never signalled must not lend it its id.
        while _task_contexts.get():
            _restore()
    elif context.current() is not None:
        _task_contexts.set((*_task_contexts.get(), None))  # run at once inside whatever queued it: its id stays
        return
    task_context = context.RequestContext(request_id=context.clean_request_id(queued_request_id(task_result)))
    _task_contexts.set((*_task_contexts.get(), context.activate(task_context)))


@receiver(task_finished, dispatch_uid="caly.foundation.tasks.task_finished")
def _task_finished(sender, task_result, **kwargs) -> None:
    if _task_contexts.get():
        _restore()


def _restore() -> None:
    *rest, token = _task_contexts.get()
    _task_contexts.set(tuple(rest))
    if token is not None:
        context.deactivate(token)
