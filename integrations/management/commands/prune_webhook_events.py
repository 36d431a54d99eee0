"""Delete webhook events older than WEBHOOK_RETENTION_DAYS."""

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations import processing


class Command(BaseCommand):
    help = (
        "Delete webhook events received more than WEBHOOK_RETENTION_DAYS ago (whatever their status). "
        "A DRY RUN BY DEFAULT: it prints how many would go; pass --apply to delete. Schedule it daily, "
        "e.g. `40 2 * * * python manage.py prune_webhook_events --apply`, or enqueue "
        "integrations.tasks.prune_webhook_events from a scheduler."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Really delete.")

    def handle(self, *args, apply: bool, **options):
        count = processing.webhook_events_prune(dry_run=not apply)
        days = settings.WEBHOOK_RETENTION_DAYS
        if apply:
            self.stdout.write(self.style.SUCCESS(f"Deleted {count} webhook event(s) older than {days} day(s)."))
        else:
            self.stdout.write(
                f"Dry run: {count} webhook event(s) older than {days} day(s) would be deleted; nothing was deleted. "
                "Run again with --apply to delete them."
            )
