"""POST /api/v1/webhooks/shopify/<connection public_id>: Shopify's deliveries, verified, then stored.

Order matters: the connection is looked up (404), the size checked (413) and the raw body verified
against the connection's webhook secret (401) before anything else looks at the body: an unverified
body is never parsed, so it can only ever get a 401. A verified one that is not JSON is a 415 or 400.
Shopify signs the body only, so the X-Shopify-Topic header must fit the body (a product for
products/*, a customer for customers/*, an order for orders/*, this shop for app/uninstalled and the
privacy topics): a replayed body under another topic is a 400.

Two limits: failed verifications (and topics that do not fit their body) count per source address
(RATE_LIMIT_WEBHOOK_UNVERIFIED), so nobody can spend a connection's allowance with forged posts;
the connection's own limit (RATE_LIMIT_WEBHOOK) counts genuine deliveries only.
Genuine deliveries are stored and queued by the inbox (a repeated X-Shopify-Webhook-Id stores
nothing) and acknowledged at once; integrations.shopify.processing applies them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from accounts.api.base import PublicAPIView
from caly.foundation.errors import DomainError, ErrorCode
from caly.foundation.ratelimit import enforce_rate
from integrations.inbox import webhook_receive
from integrations.models import ShopifyConnection, WebhookProvider
from integrations.shopify.payloads import topic_problem

logger = logging.getLogger("caly.webhooks")

# Kept with the event (the HMAC is not: it proves nothing once verified).
STORED_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Shop-Domain",
    "X-Shopify-API-Version",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Triggered-At",
    "X-Shopify-Event-Id",
    "X-Shopify-Name",
)


class RawBodyParser(BaseParser):
    """Declares the JSON Shopify sends; the view verifies and parses `request.body` itself, because
    the signature covers the exact bytes received."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read() if stream is not None else b""


def _header(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, description=description)


class ShopifyWebhookView(PublicAPIView):
    parser_classes = [RawBodyParser]

    @extend_schema(
        operation_id="shopify_webhook_receive",
        tags=["webhooks"],
        summary="Receive a Shopify webhook delivery",
        description=(
            "The URL (shown on the integrations page) Caly subscribes, through the Admin API when the store "
            "connects, to the topics products/create, products/update, products/delete, customers/create, "
            "customers/update, customers/delete, orders/create, orders/updated, orders/cancelled, "
            "orders/fulfilled, orders/paid and app/uninstalled; the privacy topics customers/data_request, "
            "customers/redact and shop/redact are set in the app's configuration to the same URL. Deliveries "
            "are verified with the connection's webhook secret, stored once per X-Shopify-Webhook-Id and "
            "applied in the background; other topics are stored and ignored. The topic must fit the signed "
            "body (a product for products/*, a customer for customers/*, an order for orders/*, this shop for "
            "app/uninstalled and the privacy topics): a mismatch is a 400. Deletes and uninstalls are "
            "confirmed with Shopify's Admin API before they apply."
        ),
        parameters=[
            _header("X-Shopify-Hmac-Sha256", "Base64 HMAC-SHA256 of the raw body, keyed with the webhook secret."),
            _header("X-Shopify-Shop-Domain", "The shop, such as chai-point.myshopify.com."),
            _header("X-Shopify-Topic", "Such as products/update."),
            _header("X-Shopify-Webhook-Id", "One per delivery; a repeated one is acknowledged and ignored."),
        ],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: inline_serializer(
                "ShopifyWebhookReceived",
                {
                    "received": serializers.BooleanField(),
                    "duplicate": serializers.BooleanField(help_text="True when this delivery was already stored."),
                },
            )
        },
    )
    def post(self, request, public_id):
        # Unscoped by design: the URL names the connection; nothing is read before it is verified.
        connection = (
            ShopifyConnection.objects.select_related("client")
            .filter(public_id=public_id, client__is_active=True)  # a deactivated client takes no deliveries
            .first()
        )
        if connection is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No Shopify connection has this webhook address.")
        body = _body(request)
        _verify(request, connection, body)
        media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
        if media_type and media_type != RawBodyParser.media_type:  # Shopify sends JSON only
            raise DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Deliveries must be application/json.")

        webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
        topic = request.headers.get("X-Shopify-Topic", "").strip()
        problems = {}
        if not webhook_id or len(webhook_id) > 200:
            problems["X-Shopify-Webhook-Id"] = ["Required, at most 200 characters."]
        if not topic or len(topic) > 100:
            problems["X-Shopify-Topic"] = ["Required, at most 100 characters."]
        if problems:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "The delivery's headers are incomplete.", details=problems)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise DomainError(ErrorCode.MALFORMED_REQUEST, "The body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise DomainError(ErrorCode.MALFORMED_REQUEST, "The body is not a JSON object.")
        problem = topic_problem(topic, payload, shop_domain=connection.shop_domain)
        if problem:
            _count_failure(request)
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                "The delivery's topic does not fit its body.",
                details={"X-Shopify-Topic": [problem]},
            )
        key = str(connection.public_id)
        enforce_rate(request, group="webhook-shopify", key=lambda group, request: key, rate=settings.RATE_LIMIT_WEBHOOK)

        headers = {name: request.headers[name][:300] for name in STORED_HEADERS if name in request.headers}
        _, created = webhook_receive(
            client=connection.client,
            provider=WebhookProvider.SHOPIFY,
            dedupe_key=webhook_id,
            topic=topic,
            body=body,
            headers=headers,
            content_type=request.content_type or "",
        )
        logger.info(
            "Shopify webhook %s for %s: %s", topic, connection.shop_domain, "stored" if created else "duplicate"
        )
        return Response({"received": True, "duplicate": not created})


def _body(request) -> bytes:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > limit:
        raise DomainError(ErrorCode.PAYLOAD_TOO_LARGE, f"Deliveries are limited to {limit} bytes.")
    return request.body


def _count_failure(request) -> None:
    """Count a delivery that failed verification against its source address (429 past the limit)."""
    enforce_rate(
        request,
        group="webhook-shopify-unverified",
        key="ip",  # client_ip (RATELIMIT_IP_META_KEY), IPv6 counted per /64 so an attacker cannot rotate addresses
        rate=settings.RATE_LIMIT_WEBHOOK_UNVERIFIED,
    )


def _verify(request, connection: ShopifyConnection, body: bytes) -> None:
    """The HMAC of the exact bytes, compared in constant time, and the shop it claims to come from."""
    if not connection.webhook_secret:
        _count_failure(request)
        raise DomainError(
            ErrorCode.TOKEN_INVALID, "This connection has no webhook secret yet; set it on the integrations page."
        )
    provided = request.headers.get("X-Shopify-Hmac-Sha256", "").strip().encode("latin-1", errors="replace")
    digest = hmac.new(connection.webhook_secret.encode(), body, hashlib.sha256).digest()
    signed = hmac.compare_digest(base64.b64encode(digest), provided)
    shop = request.headers.get("X-Shopify-Shop-Domain", "").strip().lower()
    if not signed or shop != connection.shop_domain:
        _count_failure(request)
        raise DomainError(ErrorCode.TOKEN_INVALID, "The delivery's signature or shop does not match this connection.")
