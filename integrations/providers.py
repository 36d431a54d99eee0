"""Each provider described once: what the API, the integrations page and the onboarding wizard need to
connect it, check it and disconnect it. They are generic over this registry; what only one provider has
(Exotel's callback token, Shopify's product sync) stays beside them as that provider's own actions.

This module may know both providers; the providers' own modules import only provider-neutral ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from rest_framework import serializers

from accounts.models import Client
from integrations.api import serializers as s
from integrations.credentials import CheckResult
from integrations.exotel.credentials import exotel_connection_save
from integrations.exotel.services import exotel_callback_urls, exotel_connection_check
from integrations.forms import ConnectionForm, ExotelForm, ShopifyForm
from integrations.models import Connection, ExotelConnection, ShopifyConnection
from integrations.shopify.credentials import shopify_connection_save
from integrations.shopify.services import shopify_connection_check, shopify_webhook_url


@dataclass(frozen=True)
class Provider:
    """How to connect one provider. `key` is its URL segment, API field and onboarding step."""

    key: str
    label: str
    model: type[Connection]
    form_class: type[ConnectionForm]
    serializer_class: type[serializers.Serializer]
    write_serializer_class: type[serializers.Serializer]
    # save(*, client, actor, **fields) -> connection; raises DomainError.
    save: Callable[..., Connection]
    # check(*, connection) -> CheckResult, kept on the connection.
    check: Callable[..., CheckResult]
    # What the client must paste into the provider, by template name: {"callback_urls": ...}.
    links: Callable[[Any], dict[str, Any]]
    links_hint: str
    check_summary: str
    disconnect_summary: str
    disconnected_message: str
    # Added to the API's description of saving, and what a 409 on saving means (none when empty).
    save_description: str = ""
    conflict_description: str = ""
    # Which saved connections count as connected.
    connected_filter: Q = field(default_factory=Q)

    def connections(self, client: Client) -> QuerySet:
        return self.model.objects.for_client(client)

    def connection(self, client: Client) -> Connection | None:
        return self.connections(client).first()

    def is_connected(self, client: Client) -> bool:
        return self.connections(client).filter(self.connected_filter).exists()

    def form(self, data=None, *, connection: Connection | None) -> ConnectionForm:
        return self.form_class(data, connection=connection, prefix=self.key)


EXOTEL = Provider(
    key="exotel",
    label="Exotel",
    model=ExotelConnection,
    form_class=ExotelForm,
    serializer_class=s.ExotelConnectionSerializer,
    write_serializer_class=s.ExotelConnectionWriteSerializer,
    save=exotel_connection_save,
    check=exotel_connection_check,
    links=lambda connection: {"callback_urls": exotel_callback_urls(connection=connection)},
    links_hint="Paste the callback URLs below into Exotel.",
    check_summary="Check the Exotel credentials against Exotel",
    disconnect_summary="Disconnect Exotel (calls and recordings stay)",
    disconnected_message="Exotel is disconnected. Calls and recordings already in Caly stay.",
)

SHOPIFY = Provider(
    key="shopify",
    label="Shopify",
    model=ShopifyConnection,
    form_class=ShopifyForm,
    serializer_class=s.ShopifyConnectionSerializer,
    write_serializer_class=s.ShopifyConnectionWriteSerializer,
    save=shopify_connection_save,
    check=shopify_connection_check,
    links=lambda connection: {"webhook_url": shopify_webhook_url(connection=connection)},
    links_hint="Add the webhook URL below in Shopify.",
    check_summary="Check the Shopify access token against the shop",
    disconnect_summary="Disconnect Shopify (synced products stay)",
    disconnected_message="Shopify is disconnected. Products already synced stay.",
    save_description=(
        " The shop is linked to this account only once Shopify accepts the token for that very shop "
        "(the shop's `myshopifyDomain` must be the `shop_domain` given)."
    ),
    conflict_description="CONFLICT: Shopify accepted the token, but this shop cannot be connected to this account",
    # An uninstalled app keeps its row (and webhook URL) but is not connected.
    connected_filter=Q(uninstalled_at__isnull=True),
)

PROVIDERS: dict[str, Provider] = {provider.key: provider for provider in (EXOTEL, SHOPIFY)}
