"""The admin Caly staff use for connections, the webhook inbox and synced products.

Secrets are never shown or edited here: a connection's page lists which secrets are set and their
last four characters; the client's admins change them on their integrations page. Staff can check
a connection, sync a shop, reprocess webhook events and disconnect (audited).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.defaultfilters import pluralize
from django.utils.html import format_html, format_html_join

from accounts.admin import RecheckMixin
from accounts.audit import audit_record
from accounts.models import AuditAction
from integrations import inbox, services
from integrations.exotel.services import exotel_connection_check
from integrations.models import (
    ExotelConnection,
    Product,
    ProductVariant,
    ShopifyConnection,
    ShopifyCustomer,
    ShopifyOrder,
    WebhookEvent,
)
from integrations.outbound import admin as outbound_admin  # noqa: F401 - registers outbound webhooks' admin
from integrations.shopify.services import shopify_connection_check, shopify_sync_request


class _ConnectionAdmin(RecheckMixin, admin.ModelAdmin):
    sensitive_actions = frozenset({"delete_selected", "disconnect"})
    list_select_related = ["client"]
    raw_id_fields = ["client"]
    list_filter = ["check_status"]
    actions = ["check_connection", "disconnect"]

    def get_fields(self, request, obj=None):
        secret = set(self.model.SECRET_FIELDS)
        names = [field.name for field in self.model._meta.concrete_fields if field.name not in secret | {"id"}]
        return [*names, "secrets"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="Secrets (set / last 4)")
    def secrets(self, obj) -> str:
        rows = [
            (
                name,
                f"set, ends {state['last4']}"
                if state["is_set"] and state["last4"]
                else "set"
                if state["is_set"]
                else "not set",
            )
            for name, state in obj.secret_summary().items()
        ]
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {}</li>", rows))

    def has_add_permission(self, request) -> bool:
        return False  # connections are made by the client's admins, who hold the credentials

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # "Disconnect" is audited; a plain delete would not be

    def has_disconnect_permission(self, request) -> bool:
        return request.user.has_perm(f"integrations.delete_{self.model._meta.model_name}")

    @admin.action(description="Check the credentials with the provider", permissions=["change"])
    def check_connection(self, request, queryset) -> None:
        for connection in queryset.select_related("client"):
            result = self.check_with_provider(connection)
            level = messages.SUCCESS if result.ok else messages.WARNING
            self.message_user(request, f"{connection.client}: {result.message}", level)

    @admin.action(description="Disconnect (audited; synced data stays)", permissions=["disconnect"])
    def disconnect(self, request, queryset) -> None:
        count = 0
        for connection in queryset.select_related("client"):
            services.connection_disconnect(connection=connection, actor=request.user, reason="disconnected_by_staff")
            count += 1
        self.message_user(request, f"Disconnected {count} connection{pluralize(count)}.", messages.SUCCESS)


@admin.register(ExotelConnection)
class ExotelConnectionAdmin(_ConnectionAdmin):
    list_display = ["client", "account_sid", "api_host", "check_status", "verified_at", "checked_at", "updated_at"]
    search_fields = ["account_sid__exact", "client__slug"]

    def check_with_provider(self, connection):
        return exotel_connection_check(connection=connection)


@admin.register(ShopifyConnection)
class ShopifyConnectionAdmin(_ConnectionAdmin):
    list_display = [
        "client",
        "shop_domain",
        "api_version",
        "check_status",
        "verified_at",
        "uninstalled_at",
        "last_sync_status",
        "last_sync_at",
    ]
    list_filter = ["check_status", "last_sync_status"]
    search_fields = ["shop_domain", "client__slug"]
    actions = [*_ConnectionAdmin.actions, "sync_now"]

    def check_with_provider(self, connection):
        return shopify_connection_check(connection=connection)

    @admin.action(description="Sync products now", permissions=["change"])
    def sync_now(self, request, queryset) -> None:
        queued = sum(shopify_sync_request(connection=c, actor=request.user) for c in queryset.select_related("client"))
        skipped = queryset.count() - queued
        message = f"Queued {queued} sync{pluralize(queued, 'es')}."
        if skipped:
            message += f" {skipped} already running."
        self.message_user(request, message, messages.SUCCESS)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "client", "provider", "topic", "status", "attempts", "processed_at"]
    list_filter = ["provider", "status", "topic", "received_at"]
    list_select_related = ["client"]
    search_fields = ["dedupe_key__contains", "client__slug__exact"]
    search_help_text = "Part of the delivery's key (a CallSid, a Shopify webhook id) or a client's slug."
    date_hierarchy = "received_at"
    ordering = ["-received_at", "-id"]
    show_full_result_count = False
    raw_id_fields = ["client"]
    fields = [
        "client",
        "public_id",
        "provider",
        "topic",
        "dedupe_key",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "received_at",
        "processed_at",
        "content_type",
        "headers",
        "payload",
    ]
    readonly_fields = fields
    actions = ["reprocess"]

    @admin.display(description="Payload (raw body)")
    def payload(self, obj) -> str:
        return format_html("<pre style='white-space: pre-wrap; max-width: 80ch'>{}</pre>", obj.body_text()[:100_000])

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method in ("GET", "HEAD") or obj is None  # viewable; changed only by "reprocess"

    @admin.action(description="Reprocess (failed or ignored events)", permissions=["view"])
    def reprocess(self, request, queryset) -> None:
        count = inbox.webhook_reprocess(events=queryset, actor=request.user)
        skipped = queryset.count() - count
        message = f"Queued {count} event{pluralize(count)} for processing."
        if skipped:
            message += f" Skipped {skipped} already processed."
        self.message_user(request, message, messages.SUCCESS)


class VariantInline(admin.TabularInline):
    model = ProductVariant
    fields = ["shopify_id", "sku", "title", "price", "compare_at_price", "inventory_quantity", "barcode"]
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Products mirror the client's Shopify store: read-only here, changed by syncs and webhooks."""

    list_display = ["title", "client", "status", "vendor", "product_type", "shopify_updated_at", "synced_at"]
    list_filter = ["status", "client"]
    list_select_related = ["client"]
    search_fields = ["title", "handle", "variants__sku__exact"]
    ordering = ["client", "title", "id"]
    show_full_result_count = False
    raw_id_fields = ["client"]
    inlines = [VariantInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class _AuditedReadOnlyAdmin(admin.ModelAdmin):
    """Shopify's personal data, read-only: each time staff open one, the client's audit log says who and when
    (the client's log, not the staff one, so the company sees who at Caly looked at its customers)."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = self.get_object(request, object_id)
        if obj is not None and response.status_code == 200:
            audit_record(
                action=AuditAction.SHOPIFY_CUSTOMER_VIEWED,
                client=obj.client,
                actor=request.user,
                target=obj,
                metadata={"where": "admin", "shopify_id": obj.shopify_id},
            )
        return response


@admin.register(ShopifyCustomer)
class ShopifyCustomerAdmin(_AuditedReadOnlyAdmin):
    """The list shows no contact details; opening a customer is audited."""

    list_display = ["__str__", "client", "shopify_id", "orders_count", "shopify_updated_at", "synced_at"]
    list_filter = ["client"]
    list_select_related = ["client"]
    search_fields = ["shopify_id__exact", "email__iexact", "phone__exact", "last_name__istartswith"]
    ordering = ["client", "-shopify_created_at", "-id"]
    show_full_result_count = False
    raw_id_fields = ["client"]


@admin.register(ShopifyOrder)
class ShopifyOrderAdmin(_AuditedReadOnlyAdmin):
    """Orders as synced from Shopify; opening one (it names its customer) is audited."""

    list_display = ["name", "client", "financial_status", "fulfillment_status", "total", "currency", "processed_at"]
    list_filter = ["financial_status", "client"]
    list_select_related = ["client"]
    search_fields = ["name__exact", "shopify_id__exact", "number__exact"]
    ordering = ["client", "-processed_at", "-id"]
    show_full_result_count = False
    raw_id_fields = ["client", "customer"]
