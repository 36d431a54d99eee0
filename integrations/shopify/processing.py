"""What a stored Shopify delivery does, run by the inbox worker with the event's row lock held.

The connection's row is locked too, so deliveries of one shop (and the pages of a running sync)
are applied one at a time. A delivery older than what is stored changes nothing and ends IGNORED;
so does one for a shop this client is no longer connected to, and any topic not handled here.
"""

from __future__ import annotations

import json
from dataclasses import replace

from django.utils import timezone

from integrations.inbox import PermanentError
from integrations.models import ShopifyConnection, WebhookEvent, WebhookStatus
from integrations.services import connection_disconnect
from integrations.shopify import services
from integrations.shopify.payloads import PayloadError, product_from_rest, shopify_id, timestamp

PRODUCT_TOPICS = ("products/create", "products/update")


def handle_event(event: WebhookEvent) -> str:
    """Apply one delivery; raises PermanentError when its body cannot be a Shopify payload."""
    headers = {name.lower(): value for name, value in event.headers.items()}
    connection = ShopifyConnection.objects.select_for_update().filter(client=event.client).first()
    shop = str(headers.get("x-shopify-shop-domain", "")).lower()
    if connection is None or shop != connection.shop_domain:
        return WebhookStatus.IGNORED
    try:
        payload = json.loads(bytes(event.body))
    except ValueError:
        raise PermanentError("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise PermanentError("The body is not a JSON object.")
    triggered_at = timestamp(headers.get("x-shopify-triggered-at"))

    if event.topic in PRODUCT_TOPICS:
        try:
            product = product_from_rest(payload)
        except PayloadError as exc:
            raise PermanentError(str(exc)) from None
        if product.updated_at is None:
            product = replace(product, updated_at=triggered_at)
        written = services.products_upsert(client=event.client, products=[product], synced_at=timezone.now())
        return WebhookStatus.IGNORED if written.skipped else WebhookStatus.PROCESSED

    if event.topic == "products/delete":
        try:
            product_id = shopify_id(payload.get("id"))
        except PayloadError as exc:
            raise PermanentError(str(exc)) from None
        deleted_at = triggered_at or event.received_at
        done = services.product_tombstone(client=event.client, shopify_id=product_id, deleted_at=deleted_at)
        return WebhookStatus.PROCESSED if done else WebhookStatus.IGNORED

    if event.topic == "app/uninstalled":
        if triggered_at is not None and triggered_at < connection.updated_at:
            return WebhookStatus.IGNORED  # the connection was set up again after this uninstall
        connection_disconnect(connection=connection, actor=None, reason="app/uninstalled")
        return WebhookStatus.PROCESSED

    return WebhookStatus.IGNORED
