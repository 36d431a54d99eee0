"""What Caly staff see of outbound webhooks: endpoints (never their secrets) and the delivery log, read-only.

Clients manage their endpoints themselves (API and Developers page); staff look, to answer "why did my
endpoint stop receiving events?".
"""

from __future__ import annotations

from django.contrib import admin

from integrations.outbound.models import OutboundAttempt, OutboundDelivery, WebhookEndpoint


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ["url", "client", "is_enabled", "disabled_reason", "failing_since", "last_success_at", "created_at"]
    list_filter = ["is_enabled", "disabled_reason"]
    list_select_related = ["client"]
    search_fields = ["url", "public_id", "client__name", "client__slug"]
    fields = [
        "public_id",
        "client",
        "url",
        "description",
        "event_types",
        "is_enabled",
        "disabled_reason",
        "disabled_message",
        "disabled_at",
        "failing_since",
        "last_success_at",
        "previous_secret_expires_at",
        "created_by",
        "created_at",
        "updated_at",
    ]


class AttemptInline(admin.TabularInline):
    model = OutboundAttempt
    fields = ["number", "started_at", "duration_ms", "status_code", "succeeded", "error", "response_excerpt"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboundDelivery)
class OutboundDeliveryAdmin(_ReadOnly):
    list_display = ["public_id", "event_type", "endpoint", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "is_manual"]
    list_select_related = ["endpoint", "event"]
    search_fields = ["public_id", "endpoint__url", "event__public_id"]
    fields = [
        "public_id",
        "client",
        "endpoint",
        "event",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "is_manual",
        "created_at",
        "updated_at",
    ]
    inlines = [AttemptInline]

    @admin.display(description="Event")
    def event_type(self, delivery: OutboundDelivery) -> str:
        return delivery.event.type
