"""Read-only PostgreSQL health report: key query plans, indexes, tables, statements, connections."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from caly import dbdoctor


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(value)
    return int(value)


class Command(BaseCommand):
    help = (
        "Report on the PostgreSQL database with a recommendation per finding: the app's key queries "
        "(EXPLAIN ANALYZE for a real client), unused, duplicate and overlapping indexes, foreign keys "
        "without an index, sequential scans, sizes, dead rows and (auto)vacuum, the slowest statements "
        "(pg_stat_statements) and the connection budget. Read-only: it runs in a read-only transaction "
        "and changes nothing. Exits with status 2 when a key query reads a large table sequentially. "
        "On SQLite it says which parts do not apply and exits 0."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")
        parser.add_argument(
            "--client", metavar="SLUG", help="Client whose data the key queries use (default: most calls)."
        )
        parser.add_argument(
            "--seq-scan-rows",
            type=positive_int,
            default=settings.DBDOCTOR_LARGE_TABLE_ROWS,
            metavar="N",
            help="A table this many rows or larger must not be read sequentially by a key query "
            f"(default {settings.DBDOCTOR_LARGE_TABLE_ROWS:,}).",
        )
        parser.add_argument(
            "--web-instances",
            type=positive_int,
            default=1,
            metavar="N",
            help="Hosts each running the Procfile's web, worker and scheduler (default 1).",
        )
        parser.add_argument(
            "--task-workers",
            type=positive_int,
            default=1,
            metavar="N",
            help="db_worker processes per host (default 1).",
        )
        parser.add_argument(
            "--statement-timeout",
            type=positive_int,
            default=60,
            metavar="SECONDS",
            help="Longest any one query of the report may run (default 60).",
        )

    def handle(self, *args, **options):
        try:
            report = dbdoctor.diagnose(
                client_slug=options["client"],
                large_table_rows=options["seq_scan_rows"],
                web_instances=options["web_instances"],
                task_workers=options["task_workers"],
                statement_timeout_seconds=options["statement_timeout"],
            )
        except dbdoctor.ClientNotFound as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(report.as_json() if options["json"] else dbdoctor.render_text(report), ending="")
        if options["json"]:
            self.stdout.write("")
        if report.exit_status:
            raise CommandError(
                "A key query reads a large table sequentially; see the findings.", returncode=report.exit_status
            )
