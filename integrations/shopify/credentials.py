"""Checking a Shopify access token: Shopify must accept it for that very shop.

The shop query is asked at the connection's own shop URL, and the `myshopifyDomain` it answers must
be the connection's shop domain: only then may the connection claim the shop (webhooks and the
catalogue of that shop belong to its client).
"""

from __future__ import annotations

import re

from integrations.credentials import CheckResult, accepted, refused, unreachable
from integrations.models import ShopifyConnection
from integrations.shopify import client as shopify

SHOP_QUERY = "{ shop { name myshopifyDomain } }"
# Shopify's tokens are ASCII without spaces; anything else cannot even be sent as a header.
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{1,500}")


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
