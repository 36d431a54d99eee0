"""/api/v1/webhook-endpoints and their deliveries: admins and owners (manage_developers) only."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.roles import Capability
from caly.foundation.api.pagination import KeysetPagination, PageNumberPagination
from integrations.outbound import selectors, services
from integrations.outbound import serializers as s
from integrations.outbound.models import OutboundDelivery, WebhookEndpoint

TAGS = ["webhooks"]
MANAGE = Capability.MANAGE_DEVELOPERS
CREATE_DESCRIPTION = (
    "The URL must be https and resolve to a public address (no private, loopback or link-local address). "
    "The answer holds the endpoint's `secret` (`whsec_…`): verify the `webhook-signature` of each delivery "
    "with it (Standard Webhooks: `v1,` + base64 HMAC-SHA256 of `webhook-id.webhook-timestamp.body`). "
    "Event types: " + ", ".join(f"`{name}`" for name in s.EVENT_TYPES) + "."
)


def _no_store(response: Response) -> Response:
    """Answers that carry a signing secret are never cached."""
    response["Cache-Control"] = "no-store"
    return response


class EndpointListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": MANAGE, "POST": MANAGE}
    serializer_class = s.EndpointSerializer
    pagination_class = PageNumberPagination
    queryset = WebhookEndpoint.objects.order_by("-created_at", "-id")

    @extend_schema(tags=TAGS, summary="Webhook endpoints, newest first")
    def get(self, request):
        return self.list(request)

    @extend_schema(
        tags=TAGS,
        request=s.EndpointCreateSerializer,
        responses={201: s.EndpointWithSecretSerializer},
        summary="Add a webhook endpoint (the answer shows its signing secret)",
        description=CREATE_DESCRIPTION,
    )
    def post(self, request):
        serializer = s.EndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(client=self.client, actor=request.user, **serializer.validated_data)
        return _no_store(Response(s.EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED))


class EndpointDetailView(TenantAPIView):
    capabilities = {"GET": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}
    serializer_class = s.EndpointSerializer
    queryset = WebhookEndpoint.objects.all()

    @extend_schema(tags=TAGS, summary="A webhook endpoint")
    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        tags=TAGS,
        request=s.EndpointUpdateSerializer,
        summary="Change a webhook endpoint's URL, description or event types; enable or disable it",
    )
    def patch(self, request, public_id):
        endpoint = self.get_object()
        serializer = s.EndpointUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(tags=TAGS, responses={204: None}, summary="Delete a webhook endpoint and its delivery log")
    def delete(self, request, public_id):
        services.endpoint_delete(endpoint=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointSecretView(TenantAPIView):
    capabilities = {"GET": MANAGE}
    serializer_class = s.EndpointSecretSerializer
    queryset = WebhookEndpoint.objects.all()

    @extend_schema(tags=TAGS, summary="A webhook endpoint's signing secret (each reading is in the audit log)")
    def get(self, request, public_id):
        endpoint = self.get_object()
        expires = endpoint.previous_secret_expires_at if endpoint.previous_secret else None
        shown = services.endpoint_secret_reveal(endpoint=endpoint, actor=request.user)
        secret = {"secret": shown, "previous_secret_expires_at": expires}
        return _no_store(Response(self.get_serializer(secret).data))


class EndpointRotateView(TenantAPIView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.EndpointWithSecretSerializer
    queryset = WebhookEndpoint.objects.all()

    @extend_schema(
        tags=TAGS,
        request=s.RotateSerializer,
        summary="A new signing secret; the old one keeps signing too for `overlap_hours`",
    )
    def post(self, request, public_id):
        endpoint = self.get_object()
        serializer = s.RotateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_secret_rotate(endpoint=endpoint, actor=request.user, **serializer.validated_data)
        return _no_store(Response(self.get_serializer(endpoint).data))


class EndpointTestView(TenantAPIView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.DeliverySerializer
    queryset = WebhookEndpoint.objects.all()

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={202: s.DeliverySerializer},
        summary="Send a `webhook.test` event to this endpoint now",
    )
    def post(self, request, public_id):
        delivery = services.endpoint_test_send(endpoint=self.get_object(), actor=request.user)
        return Response(self.get_serializer(selectors.delivery_get(delivery=delivery)).data, status=202)


class DeliveryListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": MANAGE}
    serializer_class = s.DeliverySerializer
    pagination_class = KeysetPagination
    keyset_ordering = ("-created_at", "-id")
    queryset = OutboundDelivery.objects.all()

    def get_tenant_queryset(self):
        endpoint = WebhookEndpoint.objects.for_client(self.client).filter(public_id=self.kwargs["public_id"]).first()
        if endpoint is None:
            raise Http404("No WebhookEndpoint matches the given query.")
        return selectors.delivery_list(endpoint=endpoint)

    @extend_schema(tags=TAGS, summary="An endpoint's delivery log, newest first, with each attempt")
    def get(self, request, public_id):
        return self.list(request)


class DeliveryRedeliverView(TenantAPIView):
    capabilities = {"POST": MANAGE}
    serializer_class = s.DeliverySerializer
    queryset = OutboundDelivery.objects.select_related("event")

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={202: s.DeliverySerializer, 404: OpenApiResponse(description="No such delivery")},
        summary="Send a delivery's event to its endpoint again (same webhook-id), now",
    )
    def post(self, request, public_id):
        delivery = services.delivery_redeliver(delivery=self.get_object(), actor=request.user)
        return Response(self.get_serializer(selectors.delivery_get(delivery=delivery)).data, status=202)
