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
from integrations.models import Connection, ConnectionState, ExotelConnection, ShopifyConnection
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
    # What the disconnect confirmation says stops, and what stays.
    disconnect_stops: tuple[str, ...]
    disconnect_keeps: str
    # Added to the API's description of saving, and what a 409 on saving means (none when empty).
    save_description: str = ""
    conflict_description: str = ""
    # Which saved connections count as connected: only those whose credentials the provider accepted.
    connected_filter: Q = field(default_factory=lambda: Q(verified_at__isnull=False))

    def connections(self, client: Client) -> QuerySet:
        return self.model.objects.for_client(client)

    def connection(self, client: Client) -> Connection | None:
        """The saved connection, a disconnected one included (an Exotel connection keeps its callback URLs)."""
        return self.connections(client).first()

    def connection_in_use(self, client: Client) -> Connection | None:
        """The saved connection unless it was disconnected: the one the actions (test, disconnect…) act on."""
        connection = self.connection(client)
        return None if connection is None or connection.state == ConnectionState.DISCONNECTED else connection

    def is_connected(self, client: Client) -> bool:
        return self.connections(client).filter(self.connected_filter).exists()

    def saved_message(self, connection: Connection) -> tuple[bool, str]:
        """(connected, what to tell) after saving: connected only once the provider accepted the credentials
        (credentials it refused are never saved: the form says why)."""
        if connection.verified_at:
            return True, f"{self.label} is connected: {connection.check_message}"
        # The provider could not be reached: saved, but it must not look connected.
        return False, f"{connection.check_message} {self.label} is not connected until a check passes."

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
    disconnect_summary=(
        "Disconnect Exotel: the credentials are wiped and callbacks refused (calls, recordings and the callback "
        "URLs stay: a PUT connects it again with the same URLs)"
    ),
    disconnected_message=(
        "Exotel is disconnected. Calls and recordings already in Caly stay; the callback URLs stay the same "
        "for when you connect it again."
    ),
    disconnect_stops=(
        "New calls are no longer received: Caly refuses Exotel's callbacks, so calls stop showing here.",
        "Recordings are no longer fetched from Exotel, those of calls already here that are still waiting included.",
        "Calls can no longer be placed from Caly.",
        "Calls left queued or ringing are no longer checked with Exotel.",
    ),
    disconnect_keeps=(
        "The calls and recordings already in Caly stay. The callback URLs stay the same: connect Exotel again "
        "with its API key and token, and calls come in again without changing anything in Exotel."
    ),
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
    disconnected_message="Shopify is disconnected. Products, customers and orders already synced stay.",
    disconnect_stops=(
        "Products, customers and orders no longer update from the shop: Caly removes its webhook subscriptions "
        "there and stops syncing.",
        "New Shopify customers and orders are no longer linked to calls.",
        "The access token and webhook secret are forgotten.",
    ),
    disconnect_keeps=(
        "Products, customers and orders already synced stay, and so do the calls linked to them. Connecting "
        "again takes the access token again; Caly subscribes to the shop's webhooks itself."
    ),
    save_description=(
        " The shop is linked to this account only once Shopify accepts the token for that very shop "
        "(the shop's `myshopifyDomain` must be the `shop_domain` given)."
    ),
    conflict_description="CONFLICT: Shopify accepted the token, but this shop cannot be connected to this account",
    # An uninstalled app keeps its row (and webhook URL) but is not connected.
    connected_filter=Q(verified_at__isnull=False, uninstalled_at__isnull=True),
)

PROVIDERS: dict[str, Provider] = {provider.key: provider for provider in (EXOTEL, SHOPIFY)}
