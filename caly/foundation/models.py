"""Models of the project package itself: the periodic job scheduler's and the task workers' bookkeeping."""

from django.db import models


class ScheduledJob(models.Model):
    """When one periodic job of `manage.py run_scheduler` is next due, and when it last ran.

    A scheduler claims a due row (SELECT … FOR UPDATE SKIP LOCKED) and moves `next_run_at` on in the
    transaction that queues the task, so however many schedulers run, each due run is queued once.
    """

    name = models.CharField(max_length=100, unique=True)
    schedule = models.CharField(max_length=100, help_text="The schedule next_run_at was computed from.")
    next_run_at = models.DateTimeField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.schedule})"


class WorkerHeartbeat(models.Model):
    """A live task worker (`manage.py run_worker`), as last seen: its heartbeat thread moves `seen_at`.

    A worker killed mid-task (SIGKILL, OOM, a lost host) leaves its task RUNNING with no one to finish
    it; once the worker's heartbeat is stale, caly.foundation.ops.workers.tasks_recover puts the task back in the
    queue. Rows of workers that exited cleanly are deleted on the way out.
    """

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} (seen {self.seen_at:%Y-%m-%d %H:%M:%S})"
