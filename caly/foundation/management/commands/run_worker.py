"""The task worker of the Procfile: django-tasks-db's `db_worker`, plus a heartbeat that lets the other
workers recover the task this one was running if it is killed (caly/foundation/ops/workers.py)."""

from django_tasks_db.management.commands import db_worker

from caly.foundation.ops import workers


class Command(db_worker.Command):
    help = (
        "Run a task worker: db_worker's options, plus a heartbeat every --heartbeat seconds. A task left "
        "RUNNING by a worker not seen for --stale-after seconds (killed, or its host lost) is queued again "
        "by the live workers; one whose workers died three times fails. SIGTERM finishes the current task "
        "first. Keep --stale-after well above --heartbeat plus the database's connect timeout."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--heartbeat",
            type=float,
            default=workers.HEARTBEAT_SECONDS,
            help="Seconds between heartbeats (default: %(default)s).",
        )
        parser.add_argument(
            "--stale-after",
            type=float,
            default=workers.STALE_AFTER_SECONDS,
            help="Seconds without a heartbeat after which a worker counts as dead (default: %(default)s).",
        )
        # db_worker picks one random id per import; ours names the host and process (see worker_id_new).
        parser.set_defaults(worker_id=None, reload=False)

    def handle(self, *args, heartbeat: float, stale_after: float, **options):
        options["worker_id"] = options["worker_id"] or workers.worker_id_new()
        options["reload"] = False  # the reloader's child process would have no heartbeat
        beat = workers.Heartbeat(options["worker_id"], interval=heartbeat, stale_after=stale_after)
        beat.register()
        beat.start()
        try:
            super().handle(*args, **options)
        finally:
            beat.stop()
