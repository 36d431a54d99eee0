"""Delete recordings older than their client's retention period (Client.recording_retention_days)."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Min
from django.utils import timezone

from recordings import services


class Command(BaseCommand):
    help = (
        "Delete the audio of recordings older than their client's retention period "
        "(clients without one keep everything). A DRY RUN BY DEFAULT: it prints what would be deleted and "
        "deletes nothing; pass --apply to delete. Deleting removes the object from storage, marks the row "
        "deleted and writes a recording.deleted audit event with reason=retention. Schedule it daily with "
        "--apply (e.g. `30 2 * * * python manage.py purge_expired_recordings --apply`), or enqueue the "
        "recordings.tasks.purge_expired_recordings task from a scheduler. Exits with status 1 if any "
        "recording could not be deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--apply",
            action="store_true",
            help="Really delete. Without it the command only reports what it would delete.",
        )

    def handle(self, *args, apply: bool, verbosity: int, **options):
        now = timezone.now()
        if not apply:
            self._report(now, verbosity)
        counts = services.recordings_purge_expired(dry_run=not apply, now=now)
        if not apply:
            self.stdout.write(
                f"Dry run: {counts['expired']} recording(s) past retention would be deleted; nothing was deleted. "
                "Run again with --apply to delete them."
            )
            return
        summary = (
            f"Deleted {counts['deleted']} of {counts['expired']} recording(s) past retention; "
            f"{counts['failed']} failed."
        )
        if counts["failed"]:
            self.stderr.write(summary)
            raise CommandError(f"{counts['failed']} recording(s) could not be deleted; see the log.")
        self.stdout.write(self.style.SUCCESS(summary))

    def _report(self, now, verbosity: int) -> None:
        """What a run with --apply would delete: one line per client, one per recording with -v 2."""
        expired = services.recordings_expired(now=now)
        per_client = (
            expired.order_by("client__slug")
            .values("client__slug", "client__recording_retention_days")
            .annotate(count=Count("id"), oldest=Min("started_at"))
        )
        for row in per_client:
            self.stdout.write(
                f"  {row['client__slug']}: {row['count']} recording(s) older than "
                f"{row['client__recording_retention_days']} day(s), the oldest from {row['oldest']:%Y-%m-%d}"
            )
        if verbosity >= 2:
            for recording in expired.order_by("client__slug", "started_at").iterator(chunk_size=500):
                self.stdout.write(
                    f"    {recording.public_id}  {recording.client.slug}  {recording.started_at:%Y-%m-%d %H:%M}  "
                    f"{recording.status}  {recording.storage_key or '-'}"
                )
