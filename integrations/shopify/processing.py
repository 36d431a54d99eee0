"""What a stored Shopify delivery does, run by the inbox worker with the event's row lock held.

Shopify signs the body, not the headers. So the topic must fit the body (checked again here, for
events stored before that check existed), times come from the signed body (`updated_at`) or the
receipt time (X-Shopify-Triggered-At counts only when it is not later than the receipt), and a
destructive topic is confirmed with Shopify's Admin API before anything is destroyed: a product or a
customer Shopify still has is not deleted, and a token Shopify still accepts is not uninstalled (both end
REFUSED). When Shopify cannot be reached the handler raises, so the inbox retries with backoff and
nothing is destroyed meanwhile.

The connection's row is locked for the writes, so deliveries of one shop (and the pages of a running
sync) are applied one at a time. A delivery older than what is stored changes nothing and ends
IGNORED; so does one for a shop this client is no longer connected to, and any topic not handled here.
Customers and orders go through integrations/shopify/customers.py (which links the calls again); the
privacy topics to integrations/shopify/privacy.py, after an uninstall too.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from django.utils import timezone

from integrations.models import ShopifyConnection, WebhookEvent, WebhookStatus
from integrations.processing import PermanentError, RefusedEvent
from integrations.shopify import catalogue, customers, privacy, services
from integrations.shopify import client as shopify
from integrations.shopify.payloads import (
    APP_UNINSTALLED,
    CUSTOMER_DELETE,
    CUSTOMER_TOPICS,
    ORDER_TOPICS,
    PRODUCT_DELETE,
    PRODUCT_TOPICS,
    PayloadError,
    customer_from_rest,
    order_from_rest,
    product_from_rest,
    shopify_id,
    timestamp,
    topic_problem,
)

PRODUCT_QUERY = "query CalyProductExists($id: ID!) { product(id: $id) { id } }"
CUSTOMER_QUERY = "query CalyCustomerExists($id: ID!) { customer(id: $id) { id } }"
SHOP_QUERY = "{ shop { myshopifyDomain } }"


def handle_event(event: WebhookEvent) -> str:
    """Apply one delivery; raises PermanentError when its body cannot be one of its topic, RefusedEvent
    when Shopify contradicts it, and anything else (Shopify unreachable) to be retried."""
    headers = {name.lower(): value for name, value in event.headers.items()}
    connection = ShopifyConnection.objects.select_related("client").filter(client=event.client).first()
    shop = str(headers.get("x-shopify-shop-domain", "")).lower()
    if connection is None or shop != connection.shop_domain:
        return WebhookStatus.IGNORED
    # Privacy deliveries count after an uninstall too: shop/redact only ever comes 48 hours after one.
    if connection.uninstalled_at is not None and event.topic not in privacy.TOPICS:
        return WebhookStatus.IGNORED
    try:
        payload = json.loads(bytes(event.body))
    except ValueError:
        raise PermanentError("The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise PermanentError("The body is not a JSON object.")
    problem = topic_problem(event.topic, payload, shop_domain=connection.shop_domain)
    if problem:
        raise PermanentError(problem)
    happened_at = _happened_at(headers, event.received_at)

    for topics, parse, write in _WRITES:
        if event.topic in topics:
            return _write_one(event, connection, payload, happened_at, parse=parse, write=write)

    if event.topic == CUSTOMER_DELETE:
        try:
            customer_id = shopify_id(payload.get("id"))
        except PayloadError as exc:
            raise PermanentError(str(exc)) from None
        _confirm_customer_gone(connection, customer_id)
        if not _lock_unchanged(connection):
            return WebhookStatus.IGNORED
        done = customers.customer_delete(client=event.client, shopify_id=customer_id)
        return WebhookStatus.PROCESSED if done else WebhookStatus.IGNORED

    if event.topic in privacy.TOPICS:
        if not _lock_unchanged(connection, uninstalled=True):
            return WebhookStatus.IGNORED
        return privacy.handle(event.topic, connection=connection, payload=payload)

    if event.topic == PRODUCT_DELETE:
        try:
            product_id = shopify_id(payload.get("id"))
        except PayloadError as exc:
            raise PermanentError(str(exc)) from None
        _confirm_product_gone(connection, product_id)
        if not _lock_unchanged(connection):
            return WebhookStatus.IGNORED
        done = catalogue.product_tombstone(client=event.client, shopify_id=product_id, deleted_at=happened_at)
        return WebhookStatus.PROCESSED if done else WebhookStatus.IGNORED

    if event.topic == APP_UNINSTALLED:
        triggered_at = timestamp(headers.get("x-shopify-triggered-at"))
        if triggered_at is not None and happened_at < connection.updated_at:
            return WebhookStatus.IGNORED  # the connection was set up again after this uninstall
        _confirm_token_revoked(connection)
        if not _lock_unchanged(connection):
            return WebhookStatus.IGNORED
        services.shopify_uninstall_apply(connection=connection, reason=APP_UNINSTALLED)
        return WebhookStatus.PROCESSED

    return WebhookStatus.IGNORED


def _write_one(event: WebhookEvent, connection, payload: dict, happened_at: datetime, *, parse, write) -> str:
    """A product, customer or order of a create/update topic, written like a sync's batch of one; its time is
    the body's updated_at, else when it happened. PROCESSED, or IGNORED when what is stored is newer."""
    try:
        item = parse(payload)
    except PayloadError as exc:
        raise PermanentError(str(exc)) from None
    if item.updated_at is None:
        item = replace(item, updated_at=happened_at)
    if not _lock_unchanged(connection):
        return WebhookStatus.IGNORED
    written = write(client=event.client, items=[item], synced_at=timezone.now())
    return WebhookStatus.IGNORED if written.skipped else WebhookStatus.PROCESSED


# (topics, the body's parser, the batch write) of the topics that create or update one row.
_WRITES = (
    (
        PRODUCT_TOPICS,
        product_from_rest,
        lambda *, client, items, synced_at: catalogue.products_upsert(
            client=client, products=items, synced_at=synced_at
        ),
    ),
    (
        CUSTOMER_TOPICS,
        customer_from_rest,
        lambda *, client, items, synced_at: customers.customers_upsert(
            client=client, customers=items, synced_at=synced_at
        ),
    ),
    (
        ORDER_TOPICS,
        order_from_rest,
        lambda *, client, items, synced_at: customers.orders_upsert(client=client, orders=items, synced_at=synced_at),
    ),
)


def _happened_at(headers: dict[str, str], received_at: datetime) -> datetime:
    """When the delivery's event happened, for ordering: X-Shopify-Triggered-At is not signed, so it
    counts only when it is no later than the receipt (a replay cannot date itself in the future)."""
    triggered_at = timestamp(headers.get("x-shopify-triggered-at"))
    return min(triggered_at, received_at) if triggered_at is not None else received_at


def _confirm_product_gone(connection: ShopifyConnection, product_id: int) -> None:
    with shopify.ShopifyClient(connection, http_attempts=1, wait=False) as api:
        data = api.query(PRODUCT_QUERY, {"id": f"gid://shopify/Product/{product_id}"})
    if data.get("product") is not None:
        raise RefusedEvent(f"Shopify still has product {product_id}: the delete was not applied.")


def _confirm_customer_gone(connection: ShopifyConnection, customer_id: int) -> None:
    with shopify.ShopifyClient(connection, http_attempts=1, wait=False) as api:
        data = api.query(CUSTOMER_QUERY, {"id": f"gid://shopify/Customer/{customer_id}"})
    if data.get("customer") is not None:
        raise RefusedEvent(f"Shopify still has customer {customer_id}: the delete was not applied.")


def _confirm_token_revoked(connection: ShopifyConnection) -> None:
    try:
        with shopify.ShopifyClient(connection, http_attempts=1, wait=False) as api:
            api.query(SHOP_QUERY)
    except shopify.ShopifyAuthError:
        return  # what an uninstall does to the token (Shopify answers 401 at once)
    raise RefusedEvent(
        f"Shopify still accepts the access token for {connection.shop_domain}: the app is installed, "
        "so the uninstall was not applied."
    )


def _lock_unchanged(connection: ShopifyConnection, *, uninstalled: bool = False) -> bool:
    """Hold the connection's row lock for the writes; False when it no longer points at the same shop
    (or, unless `uninstalled` is allowed, the app was uninstalled meanwhile)."""
    locked = (
        ShopifyConnection.objects.select_for_update()
        .filter(pk=connection.pk)
        .values("shop_domain", "uninstalled_at")
        .first()
    )
    if locked is None or locked["shop_domain"] != connection.shop_domain:
        return False
    return uninstalled or not locked["uninstalled_at"]
