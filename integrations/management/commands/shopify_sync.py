"""Sync one client's Shopify catalogue in the foreground (the admin and the integrations page queue it)."""

from django.core.management.base import BaseCommand, CommandError

from integrations.models import ShopifyConnection
from integrations.shopify import services, sync


class Command(BaseCommand):
    help = (
        "Fetch every product of a client's Shopify shop now, in this process, and print what changed: "
        "products created, updated and deleted (those no longer in Shopify), and variants written. "
        "Refuses to start while another sync of the same client is running (one older than an hour "
        "counts as dead). Exits with status 1 when the sync fails; a failed sync deletes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--client", required=True, metavar="SLUG", help="The client's slug.")

    def handle(self, *args, client: str, **options):
        connection = ShopifyConnection.objects.select_related("client").filter(client__slug=client).first()
        if connection is None:
            raise CommandError(f"No client {client!r} with a Shopify connection.")
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
