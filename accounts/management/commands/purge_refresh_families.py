"""Delete sign-ins (refresh-token families) that ended long enough ago to be of no more use."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from accounts import jwt


class Command(BaseCommand):
    help = (
        "Delete sign-ins (refresh-token families) that expired or were revoked more than --older-than-days ago. "
        "Run it daily from cron or a scheduler, e.g. `15 3 * * * python manage.py purge_refresh_families`; "
        "live sign-ins are never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=1,
            metavar="N",
            help="Keep sign-ins that ended within the last N days, for investigations (default: 1).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args, older_than_days: int, dry_run: bool, **options):
        if older_than_days < 0:
            raise CommandError("--older-than-days must be 0 or more.")
        older_than = timedelta(days=older_than_days)
        if dry_run:
            count = jwt.families_ended_before(older_than=older_than).count()
            self.stdout.write(
                f"Dry run: {count} sign-in(s) ended more than {older_than_days} day(s) ago would be deleted; "
                "nothing was deleted."
            )
            return
        deleted = jwt.families_purge_expired(older_than=older_than)
        self.stdout.write(
            self.style.SUCCESS(f"Deleted {deleted} sign-in(s) that ended more than {older_than_days} day(s) ago.")
        )
