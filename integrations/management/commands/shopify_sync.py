"""Sync one client's Shopify catalogue, or its customers and orders, in the foreground (the admin, the
integrations page and the scheduler queue them)."""

from django.core.management.base import BaseCommand, CommandError

from integrations.models import ShopifyConnection
from integrations.shopify import customer_sync, services, sync


class Command(BaseCommand):
    help = (
        "Fetch every product of a client's Shopify shop now, in this process, and print what changed: "
        "products created, updated and deleted (those no longer in Shopify), and variants written. "
        "With --customers, sync its customers and orders instead (a bulk export for a large store, pages "
        "for a small one; --incremental reads only what changed since the last sync). "
        "Refuses to start while another sync of the same kind is running (a stale one counts as dead). "
        "Exits with status 1 when the sync fails; a failed sync deletes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--client", required=True, metavar="SLUG", help="The client's slug.")
        parser.add_argument("--customers", action="store_true", help="Sync customers and orders, not products.")
        parser.add_argument(
            "--incremental", action="store_true", help="With --customers: only what changed since the last sync."
        )

    def handle(self, *args, client: str, customers: bool = False, incremental: bool = False, **options):
        connection = ShopifyConnection.objects.select_related("client").filter(client__slug=client).first()
        if connection is None:
            raise CommandError(f"No client {client!r} with a Shopify connection.")
        if customers:
            return self.sync_customers(connection, incremental=incremental)
        if incremental:
            raise CommandError("--incremental applies to --customers only.")
        started = services.shopify_sync_begin(connection=connection, actor=None, source="command")
        if started is None:
            since = (
                ShopifyConnection.objects.filter(pk=connection.pk)
                .values_list("last_sync_started_at", flat=True)
                .first()
            )
            if since is None:
                raise CommandError(f"The Shopify connection of {client!r} was just removed.")
            raise CommandError(
                f"A sync of {connection.shop_domain} is already running (started {since:%Y-%m-%d %H:%M} UTC)."
            )
        self.stdout.write(f"Syncing products of {connection.shop_domain} for {connection.client.name}…")
        result = sync.products_sync(connection=connection, started=started)
        counts = result.counts
        summary = (
            f"{counts['created']} created, {counts['updated']} updated, {counts['deleted']} deleted, "
            f"{counts['variants']} variants"
        )
        if not result.ok:
            raise CommandError(f"The sync failed ({summary} before it stopped; nothing deleted): {result.error}")
        self.stdout.write(self.style.SUCCESS(f"Synced {connection.shop_domain}: {summary}."))

    def sync_customers(self, connection: ShopifyConnection, *, incremental: bool) -> None:
        started = customer_sync.customers_sync_begin(connection=connection, actor=None, source="command")
        if started is None:
            raise CommandError(f"A customers sync of {connection.shop_domain} is already running.")
        mode = customer_sync.INCREMENTAL if incremental else customer_sync.FULL
        self.stdout.write(f"Syncing customers and orders of {connection.shop_domain} ({mode})…")
        result = customer_sync.customers_sync(connection=connection, started=started, mode=mode)
        counts = result.counts
        summary = (
            f"{counts.get('customers', 0)} customers and {counts.get('orders', 0)} orders read: "
            f"{counts.get('created', 0)} created, {counts.get('updated', 0)} updated, "
            f"{counts.get('skipped', 0)} older than stored, {counts.get('deleted', 0)} deleted"
        )
        if not result.ok:
            raise CommandError(f"The sync failed ({summary} before it stopped): {result.error}")
        self.stdout.write(self.style.SUCCESS(f"Synced {connection.shop_domain}: {summary}."))
