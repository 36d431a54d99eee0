"""Remove Shopify customers with no order and no call for CUSTOMER_RETENTION_DAYS."""

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.shopify import retention


class Command(BaseCommand):
    help = (
        "Remove Shopify customers (with their orders and phone numbers) that had no order and no call for "
        "CUSTOMER_RETENTION_DAYS. A DRY RUN BY DEFAULT: it prints how many would go; pass --apply to remove them. "
        "The scheduler runs it daily (integrations.shopify.retention_tasks.purge_inactive_customers)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Really remove.")

    def handle(self, *args, apply: bool, **options):
        counts = retention.customers_purge_inactive(dry_run=not apply)
        days = settings.CUSTOMER_RETENTION_DAYS
        if apply:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Removed {counts['customers']} customer(s) and {counts['orders']} order(s) with no order or "
                    f"call in {days} day(s)."
                )
            )
        else:
            self.stdout.write(
                f"Dry run: {counts['customers']} customer(s) with no order or call in {days} day(s) would be "
                "removed; nothing was removed. Run again with --apply to remove them."
            )
