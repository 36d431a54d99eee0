"""The client's provider connections: connect, change, check, disconnect (admins and owners only).

One view per action for every provider of integrations.providers.PROVIDERS (connection_views makes a
provider's, with its OpenAPI documentation); Exotel's callback token and Shopify's product sync are
their providers' own actions.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.roles import Capability
from caly.foundation.errors import DomainError, ErrorCode
from integrations import services
from integrations.api import serializers as s
from integrations.exotel.credentials import exotel_webhook_token_rotate
from integrations.models import ConnectionState
from integrations.providers import EXOTEL, PROVIDERS, SHOPIFY, Provider
from integrations.shopify.services import shopify_sync_request

TAGS = ["integrations"]
MANAGE = Capability.MANAGE_INTEGRATIONS
SAVE_DESCRIPTION = (
    "The credentials are checked with {provider} before they are saved: credentials {provider} refuses are a "
    "400 VALIDATION_ERROR naming the field, and nothing changes. When {provider} cannot be reached they are "
    "saved with status `unverified` (check.message says why); test the connection later to verify them.{extra}"
)


class _ConnectionView(TenantAPIView):
    """The caller's client has at most one connection per provider; it is addressed without an id."""

    provider: Provider

    def get_tenant_queryset(self):
        return self.provider.model.objects.all()

    def connection(self, *, required: bool = True, disconnected: bool = False):
        """The client's connection; a disconnected one (Exotel keeps its row) only when `disconnected`."""
        connection = self.get_queryset().first()
        if connection is not None and not disconnected and connection.state == ConnectionState.DISCONNECTED:
            connection = None
        if connection is None and required:
            raise DomainError(ErrorCode.NOT_FOUND, f"{self.provider.label} is not connected.")
        return connection


class ConnectionView(_ConnectionView):
    capabilities = {"GET": MANAGE, "PUT": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}

    def get(self, request):
        return Response(self.provider.serializer_class(self.connection(disconnected=True)).data)

    def put(self, request):
        return self._save(request, partial=False)

    def patch(self, request):
        self.connection()
        return self._save(request, partial=True)

    def delete(self, request):
        services.connection_disconnect(connection=self.connection(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _save(self, request, *, partial: bool):
        """PUT and PATCH: the provider's write serializer, then its save service (secrets write-only)."""
        serializer = self.provider.write_serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        connection = self.provider.save(client=self.client, actor=request.user, **serializer.validated_data)
        return Response(self.provider.serializer_class(connection).data)


class CheckView(_ConnectionView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.CheckResultSerializer

    def post(self, request):
        result = self.provider.check(connection=self.connection())
        return Response({"ok": result.ok, "message": result.message})


def connection_views(provider: Provider) -> tuple[type[ConnectionView], type[CheckView]]:
    """The provider's connection view (GET, PUT, PATCH, DELETE) and check view (POST), documented."""
    label, read, write = provider.label, provider.serializer_class, provider.write_serializer_class
    saved = {200: read}
    if provider.conflict_description:
        saved[409] = OpenApiResponse(description=provider.conflict_description)
    description = SAVE_DESCRIPTION.format(provider=label, extra=provider.save_description)
    attributes = {"provider": provider, "serializer_class": read, "__module__": __name__}
    connection = extend_schema_view(
        get=extend_schema(tags=TAGS, summary=f"The {label} connection"),
        put=extend_schema(
            tags=TAGS,
            request=write,
            responses=saved,
            summary=f"Connect {label}, or replace the connection's settings (secrets left empty are kept)",
            description=description,
        ),
        patch=extend_schema(
            tags=TAGS,
            request=write,
            responses=saved,
            summary=f"Change some of the {label} connection's settings",
            description=description,
        ),
        delete=extend_schema(tags=TAGS, responses={204: None}, summary=provider.disconnect_summary),
    )(type(f"{label}ConnectionView", (ConnectionView,), attributes))
    check = extend_schema_view(post=extend_schema(tags=TAGS, request=None, summary=provider.check_summary))(
        type(f"{label}CheckView", (CheckView,), {"provider": provider, "__module__": __name__})
    )
    return connection, check


class IntegrationsView(TenantAPIView):
    capabilities = {"GET": MANAGE}
    serializer_class = s.integrations_serializer({key: p.serializer_class for key, p in PROVIDERS.items()})

    @extend_schema(tags=TAGS, summary="The client's connections (null when not connected)")
    def get(self, request):
        connections = {key: provider.connection(self.client) for key, provider in PROVIDERS.items()}
        return Response(
            {
                key: PROVIDERS[key].serializer_class(connection).data if connection else None
                for key, connection in connections.items()
            }
        )


class ExotelTokenRotateView(_ConnectionView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.ExotelConnectionSerializer
    provider = EXOTEL

    @extend_schema(
        tags=TAGS,
        request=None,
        summary="New callback URLs: the old ones stop working at once (paste the new ones into Exotel)",
    )
    def post(self, request):
        connection = exotel_webhook_token_rotate(connection=self.connection(), actor=request.user)
        return Response(s.ExotelConnectionSerializer(connection).data)


class ShopifySyncView(_ConnectionView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.SyncRequestSerializer
    provider = SHOPIFY

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={202: s.SyncRequestSerializer, 404: OpenApiResponse(description="Shopify is not connected.")},
        summary="Sync the product catalogue from Shopify now (in the background)",
    )
    def post(self, request):
        connection = self.connection()
        queued = shopify_sync_request(connection=connection, actor=request.user)
        connection.refresh_from_db()
        sync = s.ShopifyConnectionSerializer(connection).data["sync"]
        return Response({"queued": queued, "sync": sync}, status=status.HTTP_202_ACCEPTED)
