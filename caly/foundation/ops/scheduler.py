"""Periodic jobs: which tasks are queued when (declared here, in UTC), and the loop that queues them.

django-tasks has no periodic scheduler, so `manage.py run_scheduler` is one. It only *queues* tasks;
the workers (`db_worker`) run them, retry them and record their results like any other task.

Several schedulers may run (one per host, say). Each job has a row (caly.foundation.models.ScheduledJob) with its
`next_run_at`; a scheduler claims a due row with SELECT … FOR UPDATE SKIP LOCKED, queues the task and
moves `next_run_at` to the next occurrence in the same transaction. A second scheduler either skips
the locked row or, once the claim commits, finds it no longer due: each run is queued exactly once.
On SQLite, where FOR UPDATE does not exist, the transaction's write lock (BEGIN IMMEDIATE, see
settings) serializes the claims instead.

A scheduler that was down over a due time queues the job once when it is back, not once per missed
occurrence.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, close_old_connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from caly.foundation import context
from caly.foundation.models import ScheduledJob
from caly.foundation.tasks import enqueue_with_transaction

logger = logging.getLogger("caly.ops.scheduler")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_SLEEP_SECONDS = 60.0  # wake up at least this often to see schedules another deploy changed
RETRY_SECONDS = 30.0  # after the database could not be reached


@dataclass(frozen=True)
class Daily:
    at: time  # UTC

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment`."""
        moment = moment.astimezone(UTC)
        candidate = datetime.combine(moment.date(), self.at, tzinfo=UTC)
        return candidate if candidate > moment else candidate + timedelta(days=1)

    def __str__(self) -> str:
        return f"daily at {self.at:%H:%M} UTC"


@dataclass(frozen=True)
class Every:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        """The next multiple of the interval since the epoch: every scheduler agrees on the slots."""
        elapsed = (moment - EPOCH) // self.interval
        return EPOCH + (elapsed + 1) * self.interval

    def __str__(self) -> str:
        return f"every {int(self.interval.total_seconds())} s"


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # dotted path of a django-tasks task that takes no arguments
    schedule: Daily | Every


def declared_jobs() -> tuple[Job, ...]:
    """The project's periodic jobs. Times are UTC: 20:30 UTC is 02:00 in India, the clients' quiet hours.

    The clean-ups run first, so the backup that follows holds nothing they were about to delete.
    """
    return (
        Job("purge-expired-recordings", "recordings.tasks.purge_expired_recordings", Daily(time(20, 30))),
        Job("prune-webhook-events", "integrations.tasks.prune_webhook_events", Daily(time(20, 45))),
        Job("prune-outbound-webhooks", "integrations.outbound.tasks.prune_outbound_events", Daily(time(20, 50))),
        Job("purge-refresh-families", "accounts.tasks.purge_refresh_families", Daily(time(21, 0))),
        Job("purge-unverified-signups", "accounts.tasks.purge_unverified_signups", Daily(time(21, 15))),
        Job(
            "purge-inactive-customers",
            "integrations.shopify.retention_tasks.purge_inactive_customers",
            Daily(time(21, 20)),
        ),
        Job("purge-expired-call-exports", "recordings.tasks.purge_expired_exports", Every(timedelta(hours=1))),
        Job("resync-shopify-customers", "integrations.shopify.tasks.resync_customers", Every(timedelta(minutes=30))),
        Job("sweep-stuck-calls", "integrations.exotel.tasks.sweep_stuck_calls", Every(timedelta(minutes=5))),
        Job(
            "backup-database",
            "caly.foundation.ops.tasks.backup_database",
            Daily(time.fromisoformat(settings.BACKUP_TIME_UTC)),
        ),
    )


def jobs_check(jobs: Iterable[Job]) -> None:
    """Import every job's task now, so a typo stops the scheduler at start instead of failing nightly."""
    problems = []
    for job in jobs:
        try:
            import_string(job.task)
        except ImportError as exc:
            problems.append(f"{job.name}: {exc}")
    if problems:
        raise ImproperlyConfigured("Periodic jobs name tasks that do not exist: " + "; ".join(problems))


def jobs_sync(jobs: Iterable[Job], *, now: datetime) -> None:
    """Give new jobs a row (first due at their next occurrence) and reschedule jobs whose schedule changed."""
    jobs = list(jobs)
    rows = {row.name: row for row in ScheduledJob.objects.filter(name__in=[job.name for job in jobs])}
    ScheduledJob.objects.bulk_create(
        [
            ScheduledJob(name=job.name, schedule=str(job.schedule), next_run_at=job.schedule.next_after(now))
            for job in jobs
            if job.name not in rows
        ],
        ignore_conflicts=True,  # another scheduler starting at the same moment
    )
    for job in jobs:
        row = rows.get(job.name)
        if row is not None and row.schedule != str(job.schedule):
            ScheduledJob.objects.filter(pk=row.pk, schedule=row.schedule).update(
                schedule=str(job.schedule), next_run_at=job.schedule.next_after(now)
            )
            logger.info("Rescheduled %s: %s (was %s)", job.name, job.schedule, row.schedule)


def run_due(jobs: Iterable[Job], *, now: datetime | None = None, stop: threading.Event | None = None) -> list[str]:
    """Queue every job due at `now` that no other scheduler has claimed; returns the names queued.

    Each job is claimed and queued in its own transaction; `stop` is checked between jobs.
    """
    jobs = list(jobs)
    now = now or timezone.now()
    jobs_sync(jobs, now=now)
    queued = []
    for job in jobs:
        if stop is not None and stop.is_set():
            break
        # Each run gets a request id of its own: the task row carries it, so the task's log lines can be
        # found with the scheduler's line that queued it.
        token = context.activate(context.RequestContext(request_id=context.clean_request_id(None)))
        try:
            next_run_at = _claim_and_queue(job, now)
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            # One broken job must not hold up the others, nor be retried in a tight loop.
            logger.exception("Could not queue %s; trying again in %.0f s", job.name, RETRY_SECONDS)
            ScheduledJob.objects.filter(name=job.name, next_run_at__lte=now).update(
                next_run_at=now + timedelta(seconds=RETRY_SECONDS)
            )
            continue
        else:
            if next_run_at is not None:
                logger.info("Queued %s (%s); next at %s", job.name, job.task, next_run_at.isoformat())
                queued.append(job.name)
        finally:
            context.deactivate(token)
    return queued


@transaction.atomic
def _claim_and_queue(job: Job, now: datetime) -> datetime | None:
    """Claim the job's row if it is due and queue its task; the new next_run_at, or None if not ours to run."""
    row = ScheduledJob.objects.select_for_update(skip_locked=True).filter(name=job.name, next_run_at__lte=now).first()
    if row is None:
        return None
    # On the database queue the task row commits with the claim; elsewhere it is queued after commit.
    enqueue_with_transaction(import_string(job.task))
    row.last_run_at = now
    row.next_run_at = job.schedule.next_after(now)
    row.save(update_fields=["last_run_at", "next_run_at", "updated_at"])
    return row.next_run_at


def seconds_until_due(jobs: Iterable[Job], *, now: datetime | None = None) -> float:
    """How long until the earliest job is due (0 when one is due now)."""
    now = now or timezone.now()
    names = [job.name for job in jobs]
    earliest = ScheduledJob.objects.filter(name__in=names).order_by("next_run_at").values_list("next_run_at", flat=True)
    first = earliest.first()
    return max((first - now).total_seconds(), 0.0) if first else MAX_SLEEP_SECONDS


def run_forever(jobs: Iterable[Job], *, stop: threading.Event) -> None:
    """Queue due jobs, then sleep until the next one is due, until `stop` is set (by SIGTERM/SIGINT)."""
    jobs = list(jobs)
    while not stop.is_set():
        try:
            close_old_connections()
            run_due(jobs, stop=stop)
            delay = min(seconds_until_due(jobs), MAX_SLEEP_SECONDS)
        except (OperationalError, InterfaceError):
            logger.exception("The database could not be reached; trying again in %.0f s", RETRY_SECONDS)
            delay = RETRY_SECONDS
        stop.wait(max(delay, 0.5))
