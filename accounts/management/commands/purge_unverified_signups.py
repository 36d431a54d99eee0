"""Delete sign-ups never verified, with the empty companies they created (the scheduler's job, for cron)."""

from django.core.management.base import BaseCommand

from accounts import signups


class Command(BaseCommand):
    help = (
        "Delete sign-ups still unverified after the verification link's lifetime plus a grace period, with the "
        "companies they created when those hold nothing else. Safe to run again; the scheduler runs it daily."
    )

    def handle(self, *args, **options):
        counts = signups.signups_purge_unverified()
        self.stdout.write(
            self.style.SUCCESS(
                f"Purged {counts['purged']} unverified sign-up(s) and their companies; "
                f"kept {counts['kept']} whose company holds other data."
            )
        )
