"""Task workers that may die mid-task: heartbeats, and recovering the tasks a dead worker left RUNNING.

django-tasks-db marks a task RUNNING when a worker claims it and never looks at it again, so a worker
killed mid-task (SIGKILL, the OOM killer, a host that vanished) leaves its task RUNNING for ever.
`manage.py run_worker` runs django-tasks-db's worker beside a heartbeat thread that moves the
worker's WorkerHeartbeat row every few seconds and calls `tasks_recover()`: a RUNNING task whose
worker has not been seen for `stale_after` seconds goes back to READY, and a worker runs it again.
Tasks are idempotent (a stored recording is not fetched twice, a webhook event is processed under
its row lock), so a task that died half-way has its effect once.

Two guards keep recovery from doing harm:
- A worker recovers nothing until its own heartbeats have succeeded for `stale_after` seconds
  without a break. After a database outage every worker's row is stale although the workers live
  and their tasks run on; by then each live worker has written its heartbeat again.
- A task whose workers died under it MAX_CLAIMS times fails instead (it may be what kills them,
  by exhausting memory say), with the reason in the admin's task results.

Only workers that keep a heartbeat row are judged: tasks claimed by a plain `db_worker` are never
touched.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta

from django.db import DatabaseError, close_old_connections, connections, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.models import DBTaskResult

from caly.foundation.models import WorkerHeartbeat

logger = logging.getLogger("caly.ops.workers")

MAX_CLAIMS = 3
HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 60.0
_RUNNING, _READY = "RUNNING", "READY"


class WorkerLost(Exception):
    """The worker running a task died while running it."""


def worker_id_new() -> str:
    """Unique across hosts and restarts, and readable in the admin: host, pid, a random part."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{get_random_string(8)}"[:64]


def heartbeat_beat(*, worker_id: str, started_at, now=None) -> None:
    """Record that `worker_id` is alive now."""
    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"seen_at": now, "hostname": socket.gethostname()[:255], "pid": os.getpid(), "started_at": started_at},
    )


def heartbeat_end(*, worker_id: str) -> None:
    """The worker exits cleanly: nothing of its is left running, its row goes."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def tasks_recover(*, stale_after: timedelta, now=None) -> list[str]:
    """Put back in the queue the RUNNING tasks of workers not seen for `stale_after`; fail those whose
    workers died MAX_CLAIMS times. Forgets dead workers left with no task. Returns the tasks' ids."""
    now = now or timezone.now()
    stale = set(WorkerHeartbeat.objects.filter(seen_at__lt=now - stale_after).values_list("worker_id", flat=True))
    if not stale:
        return []
    recovered = []
    with transaction.atomic():
        for task in DBTaskResult.objects.select_for_update(skip_locked=True).filter(status=_RUNNING):
            worker_ids = task.worker_ids or []
            if not worker_ids or worker_ids[-1] not in stale:
                continue
            recovered.append(str(task.id))
            if len(worker_ids) >= MAX_CLAIMS:
                task.set_failed(WorkerLost(f"{len(worker_ids)} workers died while running this task"))
                logger.error("Task %s (%s) failed: its worker died %s times", task.id, task.task_path, len(worker_ids))
                continue
            task.status = _READY
            task.save(update_fields=["status"])
            logger.warning(
                "Task %s (%s) queued again: worker %s died running it", task.id, task.task_path, worker_ids[-1]
            )
        running = DBTaskResult.objects.filter(status=_RUNNING).values_list("worker_ids", flat=True)
        busy = {ids[-1] for ids in running if ids}
        WorkerHeartbeat.objects.filter(worker_id__in=stale - busy).delete()
    return recovered


class Heartbeat(threading.Thread):
    """Writes the worker's heartbeat every `interval` seconds and recovers dead workers' tasks."""

    def __init__(self, worker_id: str, *, interval: float, stale_after: float):
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.interval = interval
        self.stale_after = stale_after
        self.started_at = timezone.now()
        self._healthy_since: float | None = None
        self._stopping = threading.Event()

    def register(self) -> None:
        """The first beat, before the worker claims anything; raises if the database cannot be reached."""
        heartbeat_beat(worker_id=self.worker_id, started_at=self.started_at)
        self._healthy_since = time.monotonic()

    def run(self) -> None:
        try:
            while not self._stopping.wait(self.interval):
                close_old_connections()  # one that broke in the last beat is replaced
                self.beat()
        finally:
            connections.close_all()  # this thread's own connection

    def beat(self) -> None:
        try:
            heartbeat_beat(worker_id=self.worker_id, started_at=self.started_at)
        except DatabaseError as exc:
            self._healthy_since = None
            logger.warning("Worker %s could not write its heartbeat: %s", self.worker_id, exc)
            return
        now = time.monotonic()
        if self._healthy_since is None:
            self._healthy_since = now
        if now - self._healthy_since < self.stale_after:
            return
        try:
            tasks_recover(stale_after=timedelta(seconds=self.stale_after))
        except DatabaseError as exc:
            logger.warning("Worker %s could not look for dead workers' tasks: %s", self.worker_id, exc)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=self.interval + 5)
        try:
            heartbeat_end(worker_id=self.worker_id)
        except DatabaseError as exc:
            logger.warning("Worker %s could not remove its heartbeat: %s", self.worker_id, exc)
        finally:
            connections.close_all()
