"""Models of the project package itself: the periodic job scheduler's bookkeeping."""

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
