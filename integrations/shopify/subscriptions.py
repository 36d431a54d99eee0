"""The webhook subscriptions Caly keeps in a connected store, through the Admin API.

When a verified connection is saved, a task makes sure the store sends every topic of TOPICS to the
connection's webhook URL (`webhookSubscriptionCreate`), reusing the subscriptions that already do and
deleting the ones Caly made that point elsewhere (an old URL); it is idempotent and retried, and a
failure is kept on the connection (`webhook_subscriptions_error`) for the integrations page. Disconnecting
deletes them, best-effort (`webhookSubscriptionDelete`); an uninstall needs nothing: Shopify deletes an
app's subscriptions itself. The privacy topics are not subscribed here: Shopify takes them only from
the app's configuration (see the runbook).

API versions from 2025-10 name the address `uri`; older ones `callbackUrl` (inside `endpoint` when listed).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.urls import reverse

from integrations.models import ShopifyConnection
from integrations.shopify import client as shopify

logger = logging.getLogger("caly.shopify")

TOPICS = (
    "app/uninstalled",
    "products/create",
    "products/update",
    "products/delete",
    "customers/create",
    "customers/update",
    "customers/delete",
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/paid",
)
LIST_COST = 3 + 250
CREATE = """
mutation CalySubscribe($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic }
    userErrors { field message }
  }
}
"""
DELETE = """
mutation CalyUnsubscribe($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""


def shopify_webhook_url(*, connection: ShopifyConnection) -> str:
    """The address to give Shopify for this connection's webhooks (absolute, from SITE_URL)."""
    path = reverse("shopify-webhook", kwargs={"public_id": connection.public_id})
    return settings.SITE_URL.rstrip("/") + path


def topic_enum(topic: str) -> str:
    """orders/updated → ORDERS_UPDATED, as the GraphQL enum names it."""
    return topic.replace("/", "_").upper()


def _uses_uri(connection: ShopifyConnection) -> bool:
    return connection.api_version >= "2025-10"


def _list_query(connection: ShopifyConnection) -> str:
    address = "uri" if _uses_uri(connection) else "endpoint { ... on WebhookHttpEndpoint { callbackUrl } }"
    return (
        "query CalySubscriptions($after: String) { webhookSubscriptions(first: 250, after: $after) "
        f"{{ nodes {{ id topic {address} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )


def _address(node: dict[str, Any]) -> str:
    endpoint = node.get("endpoint") if isinstance(node.get("endpoint"), dict) else {}
    value = node.get("uri") or endpoint.get("callbackUrl")
    return value if isinstance(value, str) else ""


def _existing(api: shopify.ShopifyClient, connection: ShopifyConnection) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(20):  # 5,000 subscriptions: far more than any app has
        data = api.query(_list_query(connection), {"after": after}, cost=LIST_COST)
        page = data.get("webhookSubscriptions") if isinstance(data.get("webhookSubscriptions"), dict) else {}
        nodes += [
            node for node in page.get("nodes") or [] if isinstance(node, dict) and isinstance(node.get("id"), str)
        ]
        info = page.get("pageInfo") if isinstance(page.get("pageInfo"), dict) else {}
        after = info.get("endCursor") if info.get("hasNextPage") is True else None
        if not after:
            break
    return nodes


def _user_errors(payload: Any) -> str:
    errors = payload.get("userErrors") if isinstance(payload, dict) else None
    messages = [str(e.get("message", ""))[:200] for e in errors or [] if isinstance(e, dict)]
    return "; ".join(m for m in messages if m)


def subscriptions_ensure(*, connection: ShopifyConnection) -> dict[str, str]:
    """Make the store send every topic of TOPICS to this connection's URL; returns {topic: subscription id}
    and keeps it on the connection. Raises ShopifyError when Shopify cannot be asked or refuses a topic
    (recorded on the connection; what was created stays recorded)."""
    url = shopify_webhook_url(connection=connection)
    ours = set((connection.webhook_subscriptions or {}).values())
    subscribed: dict[str, str] = {}
    problems: list[str] = []
    try:
        with shopify.ShopifyClient(connection) as api:
            existing = _existing(api, connection)
            for node in existing:
                topic = str(node.get("topic", "")).lower()
                pointed = _address(node) == url
                wanted = next((t for t in TOPICS if topic_enum(t).lower() == topic), None)
                if pointed and wanted and wanted not in subscribed:
                    subscribed[wanted] = node["id"]
                elif node["id"] in ours or pointed:  # ours, but to an old address or a topic no longer wanted
                    api.query(DELETE, {"id": node["id"]}, cost=10)
            for topic in TOPICS:
                if topic in subscribed:
                    continue
                address = {"uri": url} if _uses_uri(connection) else {"callbackUrl": url}
                data = api.query(
                    CREATE, {"topic": topic_enum(topic), "webhookSubscription": {**address, "format": "JSON"}}, cost=10
                )
                payload = data.get("webhookSubscriptionCreate")
                created = payload.get("webhookSubscription") if isinstance(payload, dict) else None
                if isinstance(created, dict) and isinstance(created.get("id"), str):
                    subscribed[topic] = created["id"]
                else:
                    problems.append(f"{topic}: {_user_errors(payload) or 'refused'}")
    except shopify.ShopifyError as exc:
        problems.append(str(exc))
    error = ""
    if problems:
        error = ("Shopify webhooks not all subscribed: " + "; ".join(problems))[:500]
    ShopifyConnection.objects.filter(pk=connection.pk, shop_domain=connection.shop_domain).update(
        webhook_subscriptions=subscribed, webhook_subscriptions_error=error
    )
    connection.webhook_subscriptions, connection.webhook_subscriptions_error = subscribed, error
    if error:
        raise shopify.ShopifyError(error)
    return subscribed


def subscriptions_remove(connection: ShopifyConnection) -> int:
    """Delete the subscriptions Caly made, best-effort (the store is being disconnected); how many went."""
    removed = 0
    ids = [value for value in (connection.webhook_subscriptions or {}).values() if isinstance(value, str)]
    if not ids or not connection.access_token:
        return 0
    try:
        with shopify.ShopifyClient(connection, http_attempts=1, wait=False) as api:
            for subscription_id in ids:
                data = api.query(DELETE, {"id": subscription_id})
                payload = data.get("webhookSubscriptionDelete")
                if isinstance(payload, dict) and payload.get("deletedWebhookSubscriptionId"):
                    removed += 1
    except shopify.ShopifyError as exc:
        logger.warning("Shopify %s: webhook subscriptions not deleted: %s", connection.shop_domain, exc)
    return removed
