"""Queue the periodic jobs (backups, retention, clean-ups) on their schedule; the task workers run them."""

import signal
import threading

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from caly.foundation.models import ScheduledJob
from caly.foundation.ops import scheduler


class Command(BaseCommand):
    help = (
        "Queue the periodic jobs declared in caly/foundation/ops/scheduler.py when they are due: database backups, "
        "recording retention, webhook event pruning, sign-in clean-up. It only queues; `db_worker` runs the "
        "tasks. Runs until SIGTERM or SIGINT (the Procfile's scheduler: line); several instances may run, each "
        "due job is queued once. --once queues what is due now and exits (for cron); --list shows the jobs."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--once", action="store_true", help="Queue the jobs due now, then exit.")
        group.add_argument("--list", action="store_true", help="Show each job, its schedule and its next run.")

    def handle(self, *args, once: bool, **options):
        jobs = scheduler.declared_jobs()
        try:
            scheduler.jobs_check(jobs)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        if options["list"]:
            self._list(jobs)
            return
        if once:
            queued = scheduler.run_due(jobs)
            self.stdout.write(f"Queued {len(queued)} job(s){': ' + ', '.join(queued) if queued else ''}.")
            return
        stop = threading.Event()

        def request_stop(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"Scheduler started with {len(jobs)} job(s): {', '.join(job.name for job in jobs)}.")
        scheduler.run_forever(jobs, stop=stop)
        self.stdout.write("Scheduler stopped.")

    def _list(self, jobs) -> None:
        scheduler.jobs_sync(jobs, now=timezone.now())
        rows = {row.name: row for row in ScheduledJob.objects.filter(name__in=[job.name for job in jobs])}
        width = max(len(job.name) for job in jobs)
        for job in jobs:
            row = rows[job.name]
            last = f"{row.last_run_at:%Y-%m-%d %H:%M} UTC" if row.last_run_at else "never"
            self.stdout.write(
                f"{job.name.ljust(width)}  {job.schedule!s:<22}  next {row.next_run_at:%Y-%m-%d %H:%M} UTC  "
                f"last {last}  {job.task}"
            )
