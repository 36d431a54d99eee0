"""A client with one of everything, for tests that must reach every route with a real object behind it.

`populate()` gives a client (whose owner is passed in) members of each kind, a pending invitation,
calls with notes, a transcript and metadata, a recording stored through `recording_store` on
whatever storage the test set up, a failed one, products with variants, Exotel and Shopify
connections, a failed webhook delivery and audit events. The fuzzer and the tenant isolation
matrix both start from it, so a route added with a new kind of object shows up in both.
`world_state()` reads back everything of one client, by value, to prove a request changed nothing.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts import api_keys
from accounts import services as accounts_services
from accounts.models import ApiKey, AuditEvent, Client, Invitation, MemberPhone, RefreshFamily, User
from accounts.roles import Role
from integrations.models import (
    CallCustomer,
    CallMatch,
    ExotelConnection,
    PhoneSource,
    Product,
    ProductVariant,
    ShopifyConnection,
    ShopifyCustomer,
    ShopifyDataRequest,
    ShopifyOrder,
    ShopifyPhone,
    WebhookEvent,
    WebhookProvider,
    WebhookStatus,
)
from integrations.outbound import services as outbound_services
from integrations.outbound.models import OutboundDelivery, OutboundEvent, WebhookEndpoint
from recordings import services as recording_services
from recordings import tags as recording_tags
from recordings.models import Call, CallExport, CallExportStatus, CallTag, MissedCall, Recording, RecordingStatus, Tag
from tests.factories import UserFactory

AUDIO = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes((i * 13 + 5) % 251 for i in range(4000))
EXOTEL_ACCOUNT_SID = "worldsid"
EXOTEL_API_KEY = "world-exotel-api-key-1a2b"
EXOTEL_API_TOKEN = "world-exotel-api-token-3c4d"
SHOPIFY_API_VERSION = "2026-04"
SHOPIFY_ACCESS_TOKEN = "shpat_world_token"
SHOPIFY_WEBHOOK_SECRET = "world-webhook-secret"


@dataclass
class World:
    client: Client
    owner: User
    agent: User
    inactive_member: User
    invitation: Invitation
    invitation_token: str
    calls: list[Call]
    call: Call  # the one with the stored recording
    recording: Recording  # stored: its object is in storage
    failed_recording: Recording
    products: list[Product]
    exotel: ExotelConnection
    shopify: ShopifyConnection
    webhook_event: WebhookEvent
    extra: dict = field(default_factory=dict)
    customer: ShopifyCustomer | None = None  # the Shopify customer of the first call, with one order
    data_request: ShopifyDataRequest | None = None  # a customers/data_request answered, its file stored
    tag: Tag | None = None  # "refund", on the call with the stored recording
    phone: MemberPhone | None = None  # the agent's registered number
    owner_phone: MemberPhone | None = None  # the owner's
    missed_call: Call | None = None  # an inbound call nobody answered: its number is to ring back
    api_key: ApiKey | None = None  # the owner's read key, used once
    webhook_endpoint: WebhookEndpoint | None = None  # an outbound webhook endpoint, with one test delivery
    webhook_delivery: OutboundDelivery | None = None
    call_export: CallExport | None = None  # a calls export written by the worker, its file stored

    @property
    def product(self) -> Product:
        return self.products[0]

    @property
    def failed_call(self) -> Call:
        """The call whose recording failed (the one a retry would fetch again)."""
        return self.failed_recording.call


def populate(
    client: Client,
    owner: User,
    *,
    slug: str,
    exotel_host: str,
    exotel_credentials: tuple[str, str, str] = (EXOTEL_ACCOUNT_SID, EXOTEL_API_KEY, EXOTEL_API_TOKEN),
    shopify_webhook_secret: str = SHOPIFY_WEBHOOK_SECRET,
    shopify_access_token: str = SHOPIFY_ACCESS_TOKEN,
) -> World:
    """Fill `client` (owned by `owner`) with one object of every kind a route can name; returns them."""
    agent = UserFactory(email=f"agent@{slug}.example", client=client, role=Role.AGENT)
    inactive = UserFactory(email=f"former@{slug}.example", client=client, role=Role.VIEWER, is_active=False)
    invitation, token = accounts_services.invitation_create(
        actor=owner, email=f"invitee@{slug}.example", role=Role.VIEWER
    )
    accounts_services.client_update(client=client, actor=owner, timezone="Asia/Dubai")

    started = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    calls = [
        recording_services.call_create(
            client=client,
            provider_call_id=f"{slug}-call-{n}",
            direction="inbound" if n % 2 == 0 else "outbound",
            from_number=f"+9198{n:08d}",
            to_number="+918047112233",
            status="completed",
            started_at=started - timedelta(hours=n),
            answered_at=started - timedelta(hours=n) + timedelta(seconds=5),
            ended_at=started - timedelta(hours=n) + timedelta(seconds=95),
            duration_seconds=90,
            notes=f"Customer of {slug} asked about order #{1000 + n}",
            transcript=f"Agent: Hello from {slug}. Customer: where is my order?",
            metadata={"order": f"#{1000 + n}", "tags": ["refund"]},
        )
        for n in range(3)
    ]
    call = calls[0]
    recording = recording_services.recording_store(call=call, stream=io.BytesIO(AUDIO), content_type="audio/mpeg")
    failed = Recording.objects.create(
        client=client,
        call=calls[1],
        started_at=calls[1].started_at,
        status=RecordingStatus.FAILED,
        last_error="Exotel answered 404",
    )

    tag = recording_tags.tag_create(client=client, actor=owner, name="refund", colour="red")
    recording_tags.call_tags_set(call=call, actor=owner, tags=[tag])

    products = []
    for n in range(2):
        product = Product.objects.create(
            client=client,
            shopify_id=7000 + n,
            title=f"{slug} kurta {n}",
            handle=f"{slug}-kurta-{n}",
            vendor=f"{slug} mills",
            product_type="Kurta",
            tags=["cotton", slug],
            description="Plain cotton.",
        )
        ProductVariant.objects.create(
            client=client,
            product=product,
            shopify_id=(7000 + n) * 10,
            sku=f"{slug.upper()}-K{n}",
            title="M",
            price=Decimal("799.00"),
        )
        products.append(product)

    customer = ShopifyCustomer.objects.create(
        client=client,
        shopify_id=5000,
        first_name="Asha",
        last_name=slug,
        email=f"asha@{slug}.example",
        phone=call.from_number,
        tags=["vip", slug],
        orders_count=1,
        total_spent=Decimal("1598.00"),
        currency="INR",
        shopify_created_at=started - timedelta(days=30),
    )
    order = ShopifyOrder.objects.create(
        client=client,
        shopify_id=6000,
        customer=customer,
        name="#1000",
        number=1000,
        processed_at=started - timedelta(days=2),
        financial_status="paid",
        total=Decimal("1598.00"),
        currency="INR",
        item_count=2,
    )
    ShopifyPhone.objects.create(client=client, phone=call.from_number, customer=customer, source=PhoneSource.CUSTOMER)
    CallCustomer.objects.update_or_create(
        call=call,
        defaults={
            "client": client,
            "customer": customer,
            "order": order,
            "match": CallMatch.ORDER,
            "phone": call.from_number,
        },
    )

    account_sid, api_key, api_token = exotel_credentials
    exotel = ExotelConnection.objects.create(
        client=client,
        account_sid=account_sid,
        api_key=api_key,
        api_token=api_token,
        api_host=exotel_host,
        caller_ids=["+918047112233"],
    )
    shopify = ShopifyConnection.objects.create(
        client=client,
        shop_domain=f"{slug}.myshopify.com",
        access_token=shopify_access_token,
        webhook_secret=shopify_webhook_secret,
        api_version=SHOPIFY_API_VERSION,
    )
    event = WebhookEvent.objects.create(
        client=client,
        provider=WebhookProvider.SHOPIFY,
        dedupe_key=f"{client.public_id}:{slug}-delivery-1",
        topic="products/update",
        body=b'{"id": 7000}',
        status=WebhookStatus.FAILED,
        attempts=3,
        last_error="Shopify product 7000 has no variants",
    )
    data_request = ShopifyDataRequest.objects.create(
        client=client,
        shopify_request_id=4400,
        customer_shopify_id=customer.shopify_id,
        storage_key=f"privacy/{client.public_id}/{slug}-data-request.json",
        counts={"customers": 1, "orders": 1, "calls": 1},
    )
    default_storage.save(data_request.storage_key, ContentFile(b'{"customers": []}'))
    phone = accounts_services.member_phone_add(actor=owner, member=agent, number="+919900011122", label="Mobile")
    owner_phone = accounts_services.member_phone_add(actor=owner, member=owner, number="+919900011133")
    # After the stats range the tests read (February and March), so their figures stay as they were.
    missed_call = recording_services.call_create(
        client=client,
        provider_call_id=f"{slug}-missed-1",
        direction="inbound",
        from_number="+919811100000",
        to_number="+918047112233",
        status="no-answer",
        started_at=started + timedelta(days=40),
        agent=agent,
        agent_number=phone.number,
    )
    api_key, _ = api_keys.api_key_create(client=client, actor=owner, name=f"{slug} sync", scope="read")
    api_keys.api_key_record_use(api_key=api_key, ip="203.0.113.10")
    webhook_endpoint = outbound_services.endpoint_create(
        client=client, actor=owner, url=f"https://203.0.114.10/{slug}", event_types=["call.completed"]
    )
    webhook_delivery = outbound_services.endpoint_test_send(endpoint=webhook_endpoint, actor=owner)
    call_export = CallExport.objects.create(
        client=client,
        requested_by=owner,
        filters={"direction": "inbound"},
        status=CallExportStatus.DONE,
        rows_expected=2,
        rows_written=2,
        storage_key=f"exports/{client.public_id}/{slug}-calls.csv",
        finished_at=started,
        expires_at=timezone.now() + timedelta(days=1),
    )
    default_storage.save(call_export.storage_key, ContentFile(f"id\n{calls[0].public_id}\n".encode()))
    return World(
        client=client,
        owner=owner,
        agent=agent,
        inactive_member=inactive,
        invitation=invitation,
        invitation_token=token,
        calls=calls,
        call=call,
        recording=recording,
        failed_recording=failed,
        products=products,
        exotel=exotel,
        shopify=shopify,
        webhook_event=event,
        customer=customer,
        data_request=data_request,
        tag=tag,
        phone=phone,
        owner_phone=owner_phone,
        missed_call=missed_call,
        api_key=api_key,
        webhook_endpoint=webhook_endpoint,
        webhook_delivery=webhook_delivery,
        call_export=call_export,
    )


def world_state(world: World) -> dict:
    """Everything of one client a request could change, by value, and its recording objects' sha256."""
    client = world.client
    users = User.objects.filter(client=client)
    recordings = Recording.objects.filter(client=client).order_by("pk")
    return {
        "client": Client.objects.filter(pk=client.pk).values().get(),
        "users": list(users.order_by("pk").values()),
        "invitations": list(Invitation.objects.filter(client=client).order_by("pk").values()),
        "families": list(RefreshFamily.objects.filter(user__in=users).order_by("pk").values()),
        "calls": list(Call.objects.filter(client=client).order_by("pk").values()),
        "phones": list(MemberPhone.objects.filter(client=client).order_by("pk").values()),
        "missed_calls": list(MissedCall.objects.filter(client=client).order_by("pk").values()),
        "recordings": list(recordings.values()),
        "products": list(Product.objects.filter(client=client).order_by("pk").values()),
        "variants": list(ProductVariant.objects.filter(client=client).order_by("pk").values()),
        "exotel": [
            {**row, "secrets": (c.api_key, c.api_token, c.webhook_token, c.callback_password)}
            for c, row in _with_values(ExotelConnection.objects.filter(client=client))
        ],
        "shopify": [
            {**row, "secrets": (c.access_token, c.webhook_secret)}
            for c, row in _with_values(ShopifyConnection.objects.filter(client=client))
        ],
        "webhooks": list(WebhookEvent.objects.filter(client=client).order_by("pk").values()),
        "customers": list(ShopifyCustomer.objects.filter(client=client).order_by("pk").values()),
        "orders": list(ShopifyOrder.objects.filter(client=client).order_by("pk").values()),
        "call_customers": list(CallCustomer.objects.filter(client=client).order_by("pk").values()),
        "tags": list(Tag.objects.filter(client=client).order_by("pk").values()),
        "call_tags": list(CallTag.objects.filter(call__client=client).order_by("pk").values()),
        "api_keys": list(ApiKey.objects.filter(client=client).order_by("pk").values()),
        "audit": list(AuditEvent.objects.filter(client=client).order_by("pk").values_list("pk", flat=True)),
        "webhook_endpoints": [
            {**row, "secrets": (e.secret, e.previous_secret)}
            for e, row in _with_values(WebhookEndpoint.objects.filter(client=client))
        ],
        "webhook_deliveries": list(OutboundDelivery.objects.filter(client=client).order_by("pk").values()),
        "webhook_events": list(OutboundEvent.objects.filter(client=client).order_by("pk").values()),
        "call_exports": list(CallExport.objects.filter(client=client).order_by("pk").values()),
        "objects": {
            key: _sha256(key)
            for key in [
                *recordings.exclude(storage_key="").values_list("storage_key", flat=True),
                *CallExport.objects.filter(client=client).exclude(storage_key="").values_list("storage_key", flat=True),
            ]
        },
    }


def _with_values(queryset):
    return [(obj, queryset.filter(pk=obj.pk).values().get()) for obj in queryset.order_by("pk")]


def _sha256(key: str) -> str | None:
    if not default_storage.exists(key):
        return None
    with default_storage.open(key, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()
