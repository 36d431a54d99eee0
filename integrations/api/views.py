"""The client's provider connections: connect, change, check, disconnect (admins and owners only)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.roles import Capability
from caly.foundation.errors import DomainError, ErrorCode
from integrations import services
from integrations.api import serializers as s
from integrations.models import ExotelConnection, ShopifyConnection

TAGS = ["integrations"]
MANAGE = Capability.MANAGE_INTEGRATIONS
SHOP_TAKEN = OpenApiResponse(
    description="CONFLICT: Shopify accepted the token, but this shop cannot be connected to this account"
)
SAVE_DESCRIPTION = (
    "The credentials are checked with {provider} before they are saved: credentials {provider} refuses are a "
    "400 VALIDATION_ERROR naming the field, and nothing changes. When {provider} cannot be reached they are "
    "saved with status `unverified` (check.message says why); test the connection later to verify them.{extra}"
)
SHOP_CLAIM = (
    " The shop is linked to this account only once Shopify accepts the token for that very shop "
    "(the shop's `myshopifyDomain` must be the `shop_domain` given)."
)


class _ConnectionView(TenantAPIView):
    """The caller's client has at most one connection per provider; it is addressed without an id."""

    model: type = None
    provider_name = ""

    def get_tenant_queryset(self):
        return self.model.objects.all()

    def _save(self, request, *, partial: bool):
        """PUT and PATCH: the provider's write serializer, then its save service (secrets write-only)."""
        serializer = self.write_serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        connection = self.save_service(client=self.client, actor=request.user, **serializer.validated_data)
        return Response(self.serializer_class(connection).data)

    def connection(self, *, required: bool = True):
        connection = self.get_queryset().first()
        if connection is None and required:
            raise DomainError(ErrorCode.NOT_FOUND, f"{self.provider_name} is not connected.")
        return connection


class IntegrationsView(TenantAPIView):
    capabilities = {"GET": MANAGE}
    serializer_class = s.IntegrationsSerializer

    @extend_schema(tags=TAGS, summary="The client's connections (null when not connected)")
    def get(self, request):
        exotel = ExotelConnection.objects.for_client(self.client).first()
        shopify = ShopifyConnection.objects.for_client(self.client).first()
        return Response(
            {
                "exotel": s.ExotelConnectionSerializer(exotel).data if exotel else None,
                "shopify": s.ShopifyConnectionSerializer(shopify).data if shopify else None,
            }
        )


class ExotelConnectionView(_ConnectionView):
    capabilities = {"GET": MANAGE, "PUT": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}
    serializer_class = s.ExotelConnectionSerializer
    write_serializer_class = s.ExotelConnectionWriteSerializer
    save_service = staticmethod(services.exotel_connection_save)
    queryset = ExotelConnection.objects.all()
    model = ExotelConnection
    provider_name = "Exotel"

    @extend_schema(tags=TAGS, summary="The Exotel connection")
    def get(self, request):
        return Response(s.ExotelConnectionSerializer(self.connection()).data)

    @extend_schema(
        tags=TAGS,
        request=s.ExotelConnectionWriteSerializer,
        responses={200: s.ExotelConnectionSerializer},
        summary="Connect Exotel, or replace the connection's settings (secrets left empty are kept)",
        description=SAVE_DESCRIPTION.format(provider="Exotel", extra=""),
    )
    def put(self, request):
        return self._save(request, partial=False)

    @extend_schema(
        tags=TAGS,
        request=s.ExotelConnectionWriteSerializer,
        responses={200: s.ExotelConnectionSerializer},
        summary="Change some of the Exotel connection's settings",
        description=SAVE_DESCRIPTION.format(provider="Exotel", extra=""),
    )
    def patch(self, request):
        self.connection()
        return self._save(request, partial=True)

    @extend_schema(tags=TAGS, responses={204: None}, summary="Disconnect Exotel (calls and recordings stay)")
    def delete(self, request):
        services.connection_disconnect(connection=self.connection(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExotelCheckView(_ConnectionView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.CheckResultSerializer
    queryset = ExotelConnection.objects.all()
    model = ExotelConnection
    provider_name = "Exotel"

    @extend_schema(tags=TAGS, request=None, summary="Check the Exotel credentials against Exotel")
    def post(self, request):
        from integrations.exotel.services import exotel_connection_check

        result = exotel_connection_check(connection=self.connection())
        return Response({"ok": result.ok, "message": result.message})


class ExotelTokenRotateView(_ConnectionView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.ExotelConnectionSerializer
    queryset = ExotelConnection.objects.all()
    model = ExotelConnection
    provider_name = "Exotel"

    @extend_schema(
        tags=TAGS,
        request=None,
        summary="New callback URLs: the old ones stop working at once (paste the new ones into Exotel)",
    )
    def post(self, request):
        connection = services.exotel_webhook_token_rotate(connection=self.connection(), actor=request.user)
        return Response(s.ExotelConnectionSerializer(connection).data)


class ShopifyConnectionView(_ConnectionView):
    capabilities = {"GET": MANAGE, "PUT": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}
    serializer_class = s.ShopifyConnectionSerializer
    write_serializer_class = s.ShopifyConnectionWriteSerializer
    save_service = staticmethod(services.shopify_connection_save)
    queryset = ShopifyConnection.objects.all()
    model = ShopifyConnection
    provider_name = "Shopify"

    @extend_schema(tags=TAGS, summary="The Shopify connection")
    def get(self, request):
        return Response(s.ShopifyConnectionSerializer(self.connection()).data)

    @extend_schema(
        tags=TAGS,
        request=s.ShopifyConnectionWriteSerializer,
        responses={200: s.ShopifyConnectionSerializer, 409: SHOP_TAKEN},
        summary="Connect Shopify, or replace the connection's settings (secrets left empty are kept)",
        description=SAVE_DESCRIPTION.format(provider="Shopify", extra=SHOP_CLAIM),
    )
    def put(self, request):
        return self._save(request, partial=False)

    @extend_schema(
        tags=TAGS,
        request=s.ShopifyConnectionWriteSerializer,
        responses={200: s.ShopifyConnectionSerializer, 409: SHOP_TAKEN},
        summary="Change some of the Shopify connection's settings",
        description=SAVE_DESCRIPTION.format(provider="Shopify", extra=SHOP_CLAIM),
    )
    def patch(self, request):
        self.connection()
        return self._save(request, partial=True)

    @extend_schema(tags=TAGS, responses={204: None}, summary="Disconnect Shopify (synced products stay)")
    def delete(self, request):
        services.connection_disconnect(connection=self.connection(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShopifyCheckView(_ConnectionView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.CheckResultSerializer
    queryset = ShopifyConnection.objects.all()
    model = ShopifyConnection
    provider_name = "Shopify"

    @extend_schema(tags=TAGS, request=None, summary="Check the Shopify access token against the shop")
    def post(self, request):
        from integrations.shopify.services import shopify_connection_check

        result = shopify_connection_check(connection=self.connection())
        return Response({"ok": result.ok, "message": result.message})


class ShopifySyncView(_ConnectionView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.SyncRequestSerializer
    queryset = ShopifyConnection.objects.all()
    model = ShopifyConnection
    provider_name = "Shopify"

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={202: s.SyncRequestSerializer, 404: OpenApiResponse(description="Shopify is not connected.")},
        summary="Sync the product catalogue from Shopify now (in the background)",
    )
    def post(self, request):
        from integrations.shopify.services import shopify_sync_request

        connection = self.connection()
        queued = shopify_sync_request(connection=connection, actor=request.user)
        connection.refresh_from_db()
        sync = s.ShopifyConnectionSerializer(connection).data["sync"]
        return Response({"queued": queued, "sync": sync}, status=status.HTTP_202_ACCEPTED)
