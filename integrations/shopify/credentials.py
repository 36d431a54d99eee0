"""Shopify credentials: an access token Shopify must accept for that very shop, then saved.

The shop query is asked at the connection's own shop URL, and the `myshopifyDomain` it answers must
be the connection's shop domain: only then may the connection claim the shop (webhooks and the
catalogue of that shop belong to its client).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from accounts.models import Client, User
from integrations.credentials import CheckResult, accepted, refused, unreachable
from integrations.models import ShopifyConnection
from integrations.services import connection_save
from integrations.shopify import client as shopify
from integrations.shopify.connect import shopify_connected

SHOP_QUERY = "{ shop { name myshopifyDomain } }"
# Shopify's tokens are ASCII without spaces; anything else cannot even be sent as a header.
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{1,500}")
SHOPIFY_FIELDS = ("shop_domain", "access_token", "webhook_secret", "api_version")
NOT_VERIFIED = (
    "Saved, not verified: {problem} Until Shopify accepts the token, the shop is not linked to this "
    "account; test the connection once Shopify answers."
)


def shopify_credentials_check(connection: ShopifyConnection) -> CheckResult:
    """One shop query with the connection's token (saved or not); writes nothing."""
    domain = connection.shop_domain
    if not connection.access_token:
        return refused("access_token", "No access token is set.")
    if not TOKEN_PATTERN.fullmatch(connection.access_token):
        return refused("access_token", "An access token is letters, digits and punctuation, without spaces.")
    try:
        with shopify.ShopifyClient(connection, http_attempts=1, wait=False) as api:
            shop = api.query(SHOP_QUERY).get("shop")
    except shopify.ShopifyAuthError:
        return refused("access_token", "Shopify refused the access token.")
    except shopify.ShopifyNotFound:
        return refused("shop_domain", f"Shopify has no shop at {domain}.")
    except shopify.ShopifyUnavailable:
        return unreachable("Could not reach Shopify; try again in a few minutes.")
    except shopify.ShopifyError as exc:
        return refused("access_token", str(exc))
    shop = shop if isinstance(shop, dict) else {}
    name, answered = shop.get("name"), shop.get("myshopifyDomain")
    if not isinstance(name, str) or not name.strip() or not isinstance(answered, str):
        return refused("access_token", "Shopify answered without the shop's name and domain.")
    if answered.strip().lower() != domain:
        return refused("shop_domain", f"Shopify says this access token is not for {domain}.")
    return accepted(f"Connected to {name.strip()[:200]}")


def shopify_connection_save(*, client: Client, actor: User | None, **fields: Any) -> ShopifyConnection:
    """Connect Shopify or change the connection, once Shopify accepts the token for that shop (secrets
    left empty keep their stored value). VALIDATION_ERROR for bad settings or a token Shopify refuses;
    CONFLICT when the shop is claimed by another account; saved unverified, claiming nothing, when
    Shopify cannot be reached. Reconnecting after an uninstall keeps the connection (and its webhook URL).
    A verified connection then gets its webhook subscriptions and its first customers sync (queued)."""
    if isinstance(fields.get("shop_domain"), str):
        fields["shop_domain"] = fields["shop_domain"].strip().lower().removeprefix("https://").rstrip("/")
    connection = connection_save(
        ShopifyConnection,
        client=client,
        actor=actor,
        fields=fields,
        allowed=SHOPIFY_FIELDS,
        verify=shopify_credentials_check,
        not_verified=NOT_VERIFIED,
        defaults={"api_version": settings.SHOPIFY_API_VERSION},
    )
    shopify_connected(connection=connection)
    return connection
