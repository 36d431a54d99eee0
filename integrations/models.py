"""Connections to providers (secrets encrypted at rest), the webhook inbox, the Shopify catalogue, and the Shopify
customers and orders calls are linked to."""

from __future__ import annotations

import secrets
import uuid

from django.core.validators import RegexValidator
from django.db import models

from accounts.models import Client
from caly.foundation.tenancy import TenantQuerySet
from integrations.crypto import EncryptedTextField, last4
from integrations.outbound.models import (  # noqa: F401 - outbound webhooks' models, declared in their package
    OutboundAttempt,
    OutboundDelivery,
    OutboundEvent,
    WebhookEndpoint,
)

shop_domain_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$", "Enter the shop's domain, such as chai-point.myshopify.com."
)
api_version_validator = RegexValidator(r"^20[0-9]{2}-(01|04|07|10)$", "Enter a Shopify API version such as 2026-04.")


def new_webhook_token() -> str:
    return secrets.token_urlsafe(32)


class CheckStatus(models.TextChoices):
    NEVER = "never", "Not checked yet"
    OK = "ok", "Working"
    FAILED = "failed", "Not working"


class ConnectionState(models.TextChoices):
    VERIFIED = "verified", "Verified"
    UNVERIFIED = "unverified", "Not verified"
    UNINSTALLED = "uninstalled", "Uninstalled in Shopify"
    DISCONNECTED = "disconnected", "Disconnected"


class Connection(models.Model):
    """What every provider connection has: its client, a public id and the last credentials check."""

    SECRET_FIELDS: tuple[str, ...] = ()

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    check_status = models.CharField(max_length=10, choices=CheckStatus.choices, default=CheckStatus.NEVER)
    check_message = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider last accepted these credentials; empty: not verified."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True

    def secret_summary(self) -> dict[str, dict[str, object]]:
        """{field: {"is_set": bool, "last4": "…"}}: all the API and pages ever show of a secret."""
        return {
            name: {"is_set": bool(getattr(self, name)), "last4": last4(getattr(self, name))}
            for name in self.SECRET_FIELDS
        }

    @property
    def state(self) -> str:
        """verified, unverified or (Shopify) uninstalled: what the pages and the API call the connection."""
        return ConnectionState.VERIFIED if self.verified_at else ConnectionState.UNVERIFIED


class ExotelRegion(models.TextChoices):
    SINGAPORE = "api.exotel.com", "Singapore (api.exotel.com)"
    MUMBAI = "api.in.exotel.com", "Mumbai (api.in.exotel.com)"


class ExotelConnectionQuerySet(TenantQuerySet):
    def connected(self):
        """Connections not disconnected: the only ones Caly may call Exotel with or take callbacks for."""
        return self.filter(disconnected_at__isnull=True)


class ExotelConnection(Connection):
    """A client's Exotel account. Callback URLs carry `public_id` and the random `webhook_token`.

    Disconnecting keeps the row (with its public id and token) and wipes the credentials, so connecting
    again gives the same callback URLs: only rotating the token changes them.
    """

    SECRET_FIELDS = ("api_key", "api_token", "webhook_token", "callback_password")

    account_sid = models.CharField(max_length=64, validators=[RegexValidator(r"^[A-Za-z0-9_-]{1,64}$")])
    api_key = EncryptedTextField()
    api_token = EncryptedTextField()
    api_host = models.CharField(max_length=100, default=ExotelRegion.MUMBAI, help_text="The Exotel API host.")
    caller_ids = models.JSONField(default=list, blank=True, help_text="ExoPhones calls may be placed from (E.164).")
    webhook_token = EncryptedTextField(default=new_webhook_token)
    callback_username = models.CharField(max_length=100, blank=True)
    callback_password = EncryptedTextField(blank=True)
    disconnected_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was disconnected (credentials wiped, callbacks refused); empty: in use.",
    )

    # The base's manager, with `connected()`: mypy takes the base's `objects` for a class variable.
    objects = ExotelConnectionQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        verbose_name = "Exotel connection"

    def __str__(self) -> str:
        return f"Exotel {self.account_sid}"

    @property
    def state(self) -> str:
        return ConnectionState.DISCONNECTED if self.disconnected_at else super().state


class ShopifyConnection(Connection):
    """A client's Shopify store. The shop domain is claimed (unique) only while `verified_at` is set:
    Shopify accepted the access token for that very shop. An uninstall keeps the row (so the webhook
    URL, which carries `public_id`, stays the same when the store reconnects) and wipes the secrets."""

    SECRET_FIELDS = ("access_token", "webhook_secret")

    shop_domain = models.CharField(max_length=100, validators=[shop_domain_validator])
    access_token = EncryptedTextField()
    webhook_secret = EncryptedTextField(blank=True)
    api_version = models.CharField(max_length=7, validators=[api_version_validator])
    last_sync_started_at = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True, help_text="When the last full sync finished.")
    last_sync_status = models.CharField(max_length=10, blank=True)  # running, ok, failed
    last_sync_counts = models.JSONField(default=dict, blank=True)
    last_sync_error = models.TextField(blank=True)
    uninstalled_at = models.DateTimeField(
        null=True, blank=True, help_text="When Shopify confirmed the app was uninstalled (credentials wiped)."
    )
    # Customers and orders: the last full sync (a bulk operation or pages) and the incremental re-syncs'
    # watermark (Shopify's updated_at of the newest row seen), so a missed webhook heals within a window.
    customers_synced_at = models.DateTimeField(null=True, blank=True)
    customers_sync_started_at = models.DateTimeField(null=True, blank=True)
    customers_sync_status = models.CharField(max_length=10, blank=True)  # running, ok, failed
    customers_sync_counts = models.JSONField(default=dict, blank=True)
    customers_sync_error = models.TextField(blank=True)
    customers_watermark = models.DateTimeField(null=True, blank=True)
    bulk_operation_id = models.CharField(max_length=100, blank=True)
    # Ids of the webhook subscriptions Caly created through the Admin API: {topic: subscription gid}.
    webhook_subscriptions = models.JSONField(default=dict, blank=True)
    webhook_subscriptions_error = models.CharField(
        max_length=500, blank=True, help_text="Why the last change of the webhook subscriptions failed (retried)."
    )

    class Meta:
        verbose_name = "Shopify connection"
        constraints = [
            models.UniqueConstraint(
                fields=["shop_domain"],
                condition=models.Q(verified_at__isnull=False),
                name="integrations_shopify_verified_shop_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Shopify {self.shop_domain}"

    @property
    def state(self) -> str:
        if self.uninstalled_at and not self.verified_at:
            return ConnectionState.UNINSTALLED
        return super().state


# --- webhook inbox -----------------------------------------------------------------------------


class WebhookProvider(models.TextChoices):
    EXOTEL = "exotel", "Exotel"
    SHOPIFY = "shopify", "Shopify"


class WebhookStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed"


class WebhookEvent(models.Model):
    """One delivery, stored before it is acknowledged; processed by the task worker, idempotently.

    `dedupe_key` starts with the client's public id, so one client's deliveries can never
    collide with (or pre-empt) another's.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.CharField(max_length=20, choices=WebhookProvider.choices)
    dedupe_key = models.CharField(max_length=300)
    topic = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(help_text="The raw body (for a GET, the query string), exactly as received.")
    content_type = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=WebhookStatus.choices, default=WebhookStatus.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "dedupe_key"], name="integrations_webhook_unique_dedupe"),
        ]
        indexes = [
            models.Index(fields=["client", "-received_at"], name="integ_webhook_client_recv"),
            models.Index(fields=["status", "received_at"], name="integ_webhook_status_recv"),
            models.Index(fields=["received_at"], name="integ_webhook_received"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.topic} {self.dedupe_key}"

    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


# --- Shopify catalogue -------------------------------------------------------------------------


class ProductStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DRAFT = "draft", "Draft"
    ARCHIVED = "archived", "Archived"
    UNLISTED = "unlisted", "Unlisted"


class Product(models.Model):
    """A product of the client's Shopify catalogue, kept current by full syncs and webhooks.

    A product Shopify deleted stays as a tombstone (`deleted_at` set, no variants) for a while, so a
    late or retried webhook about it cannot bring it back; lists and the API show live products only.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shopify_id = models.BigIntegerField()
    title = models.CharField(max_length=255)
    handle = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=ProductStatus.choices, default=ProductStatus.ACTIVE)
    vendor = models.CharField(max_length=255, blank=True)
    product_type = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True, help_text="The description as plain text.")
    images_count = models.PositiveIntegerField(default=0)
    shopify_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="When Shopify deleted it (a tombstone).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "shopify_id"], name="integrations_product_unique_shopify_id"),
        ]
        indexes = [
            models.Index(fields=["client", "title", "id"], name="integ_product_client_title"),
            models.Index(fields=["client", "status"], name="integ_product_client_status"),
        ]

    def __str__(self) -> str:
        return self.title


class ProductVariant(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    shopify_id = models.BigIntegerField()
    sku = models.CharField(max_length=255, blank=True)
    title = models.CharField(max_length=255, blank=True)
    price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    compare_at_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    inventory_quantity = models.IntegerField(null=True, blank=True)
    barcode = models.CharField(max_length=255, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "shopify_id"], name="integrations_variant_unique_shopify_id"),
        ]
        indexes = [models.Index(fields=["client", "sku"], name="integ_variant_client_sku")]

    def __str__(self) -> str:
        return self.sku or self.title


# --- Shopify customers and orders, and the calls linked to them ---------------------------------
# Client foreign keys have no index of their own: each table's composite indexes start with the client.
# Personal data kept to what an agent on a call needs: names, e-mail, phones, tags and order summaries.
# No addresses (their phones only, in ShopifyPhone), no payment details.


class ShopifyCustomer(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shopify_id = models.BigIntegerField()
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=16, blank=True, help_text="The customer's own phone, E.164.")
    tags = models.JSONField(default=list, blank=True)
    orders_count = models.PositiveIntegerField(default=0)
    total_spent = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, blank=True)
    shopify_created_at = models.DateTimeField(null=True, blank=True)
    shopify_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "Shopify customer"
        constraints = [
            models.UniqueConstraint(fields=["client", "shopify_id"], name="integ_customer_unique_shopify_id"),
        ]
        indexes = [
            models.Index(fields=["client", "-shopify_created_at", "-id"], name="integ_customer_client_created"),
            models.Index(fields=["client", "email"], name="integ_customer_client_email"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or f"Customer {self.shopify_id}"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ShopifyOrder(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shopify_id = models.BigIntegerField()
    customer = models.ForeignKey(
        ShopifyCustomer, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders", db_index=False
    )
    # The customer's id in Shopify: an order that arrives before its customer is attached when the customer does.
    customer_shopify_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=64, help_text="The order's name in the store, such as #1042.")
    number = models.PositiveBigIntegerField(null=True, blank=True, help_text="The number in its name: 1042.")
    processed_at = models.DateTimeField(null=True, blank=True)
    financial_status = models.CharField(max_length=30, blank=True)
    fulfillment_status = models.CharField(max_length=30, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    shopify_updated_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "Shopify order"
        constraints = [
            models.UniqueConstraint(fields=["client", "shopify_id"], name="integ_order_unique_shopify_id"),
        ]
        indexes = [
            models.Index(fields=["client", "number"], name="integ_order_client_number"),
            models.Index(fields=["customer", "-processed_at", "-id"], name="integ_order_customer_recent"),
            models.Index(
                fields=["client", "customer_shopify_id"],
                condition=models.Q(customer__isnull=True, customer_shopify_id__isnull=False),
                name="integ_order_client_orphans",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PhoneSource(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    DEFAULT_ADDRESS = "default_address", "Default address"
    BILLING = "billing", "Billing address"
    SHIPPING = "shipping", "Shipping address"


class ShopifyPhone(models.Model):
    """One E.164 number of a customer, or of an order (billing, shipping), as calls are matched by it."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    phone = models.CharField(max_length=16)
    customer = models.ForeignKey(ShopifyCustomer, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(ShopifyOrder, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=20, choices=PhoneSource.choices)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["client", "phone"], name="integ_phone_client_phone")]

    def __str__(self) -> str:
        return self.phone


class CallMatch(models.TextChoices):
    PHONE = "phone", "By phone number"
    ORDER = "order", "By order reference"
    AMBIGUOUS = "ambiguous", "Several customers share the number"
    NONE = "none", "No customer has the number"


class CallCustomer(models.Model):
    """Which Shopify customer (and order) a call is about, and how Caly knows: one row per call."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    call = models.OneToOneField("recordings.Call", on_delete=models.CASCADE, related_name="shopify_customer")
    customer = models.ForeignKey(
        ShopifyCustomer, null=True, blank=True, on_delete=models.SET_NULL, related_name="call_links"
    )
    order = models.ForeignKey(ShopifyOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    match = models.CharField(max_length=10, choices=CallMatch.choices, default=CallMatch.NONE)
    phone = models.CharField(max_length=16, blank=True, help_text="The customer's number on the call, E.164.")
    linked_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["client", "customer"], name="integ_callcust_client_customer"),
            models.Index(fields=["client", "order"], name="integ_callcust_client_order"),
            models.Index(fields=["client", "phone"], name="integ_callcust_client_phone"),
        ]

    def __str__(self) -> str:
        return f"{self.call_id} → {self.customer_id or self.match}"


class CallOrderReference(models.Model):
    """An order reference written on a call (its CustomField or notes: #1042, order-1042, CP-1042), kept so
    a call is linked when the order it names is synced later. `tag` is the letters before the number,
    lowercased ("order", "cp"), or "#"; whether it names an order is decided against the order's name."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    call = models.ForeignKey("recordings.Call", on_delete=models.CASCADE, related_name="+")
    number = models.PositiveBigIntegerField()
    tag = models.CharField(max_length=12)
    position = models.PositiveSmallIntegerField(help_text="Its place on the call: the first valid one wins.")

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["client", "number"], name="integ_callref_client_number")]

    def __str__(self) -> str:
        return f"{self.call_id}: {self.tag} {self.number}"


class ShopifyDataRequest(models.Model):
    """A customers/data_request from Shopify, answered with a JSON file of what Caly holds about that customer
    (private storage, under `storage_key`), for the client's owners to download and hand to the store."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    shopify_request_id = models.BigIntegerField(null=True, blank=True, help_text="Shopify's data_request id.")
    customer_shopify_id = models.BigIntegerField(null=True, blank=True)
    storage_key = models.CharField(max_length=300)
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="What the file holds: customers, orders, calls.")
    received_at = models.DateTimeField(auto_now_add=True)
    downloaded_at = models.DateTimeField(null=True, blank=True, help_text="When an owner last downloaded it.")

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "Shopify data request"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "shopify_request_id"],
                condition=models.Q(shopify_request_id__isnull=False),
                name="integ_datareq_unique_request",
            ),
        ]
        indexes = [models.Index(fields=["client", "-received_at"], name="integ_datareq_client_received")]

    def __str__(self) -> str:
        return f"Data request {self.shopify_request_id or self.public_id}"
