"""Outbound webhooks: the client's endpoints, the events Caly tells them about, and each delivery's attempts.

The models live in this package and join the integrations app through `integrations/models.py`, which
imports them. An event is written once per change of an object (its `webhook-id` never changes); a
delivery is one event on its way to one endpoint (a redelivery by hand is a new delivery of the same
event), and each try of a delivery leaves an attempt row: the endpoint's delivery log.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Client
from caly.foundation.tenancy import TenantQuerySet
from integrations.crypto import EncryptedTextField

# The event types a client may subscribe to; `webhook.test` is sent only when asked for.
EVENT_TYPES: dict[str, str] = {
    "call.created": "A call reached Caly",
    "call.completed": "A call ended (completed, busy, no answer, failed or cancelled)",
    "call.updated": "A call changed (status, duration, notes, resolution…)",
    "recording.stored": "A call's recording is stored and can be played",
    "recording.failed": "A call's recording could not be fetched",
    "customer.linked": "A call was linked to a Shopify customer",
}
TEST_EVENT_TYPE = "webhook.test"
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 500
RESPONSE_EXCERPT_BYTES = 1024


class DisabledReason(models.TextChoices):
    MANUAL = "manual", "Disabled by a user"
    GONE = "gone", "The endpoint answered 410 Gone"
    FAILING = "failing", "Deliveries kept failing"


class WebhookEndpoint(models.Model):
    """A URL of the client's own systems that receives the events it subscribed to, signed with its secret."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.CharField(max_length=MAX_URL_LENGTH)
    description = models.CharField(max_length=MAX_DESCRIPTION_LENGTH, blank=True)
    event_types = models.JSONField(default=list, help_text="The event types it receives.")
    secret = EncryptedTextField(help_text="whsec_<base64>: signs every delivery.")
    previous_secret = EncryptedTextField(blank=True, help_text="The secret before the last rotation.")
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Until then deliveries carry a signature with the previous secret too."
    )
    is_enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=10, choices=DisabledReason.choices, blank=True)
    disabled_message = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first failed attempt since the last success; empty: not failing."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "outbound webhook endpoint"
        indexes = [models.Index(fields=["client", "-created_at", "-id"], name="integ_outbound_ep_client")]

    def __str__(self) -> str:
        return self.url


class OutboundEvent(models.Model):
    """Something that happened to one of the client's objects, with the exact body every delivery sends."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40)
    object_id = models.UUIDField(null=True, blank=True, help_text="The public id of the call or recording.")
    occurred_at = models.DateTimeField()
    body = models.TextField(help_text='The JSON sent: {"type", "timestamp", "data"}; signed as these exact bytes.')
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "outbound webhook event"
        indexes = [models.Index(fields=["client", "-created_at"], name="integ_outbound_ev_client")]

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header: the same on every attempt and redelivery of this event."""
        return f"msg_{self.public_id.hex}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class OutboundDelivery(models.Model):
    """One event on its way to one endpoint: retried with backoff until it succeeds or gives up."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event = models.ForeignKey(OutboundEvent, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    is_manual = models.BooleanField(default=False, help_text="A redelivery or test event sent on request.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()
    last_attempt: OutboundAttempt | None = None  # set by selectors.deliveries_recent for the pages

    class Meta:
        verbose_name = "outbound webhook delivery"
        verbose_name_plural = "outbound webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at", "-id"], name="integ_outbound_dl_endpoint"),
            # The recent deliveries of a client (the Developers page), and removing a client without a scan.
            models.Index(fields=["client", "-created_at", "-id"], name="integ_outbound_dl_client"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class OutboundAttempt(models.Model):
    """One HTTP request of a delivery: what the endpoint answered, how fast, or why it could not be sent."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    delivery = models.ForeignKey(OutboundDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    response_excerpt = models.TextField(blank=True, help_text=f"At most {RESPONSE_EXCERPT_BYTES} bytes of the body.")
    error = models.CharField(max_length=500, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = "outbound webhook attempt"
        ordering = ["delivery_id", "number"]
        # Removing a client deletes its attempts by client_id: without this it would read the whole table.
        indexes = [models.Index(fields=["client", "-started_at"], name="int_outattempt_client_started")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
