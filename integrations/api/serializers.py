"""Connections as the API shows them: secrets are write-only and come back as "set / last 4" only."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from rest_framework import serializers

from caly.foundation.api.serializers import RequestSerializer
from integrations.exotel.services import exotel_callback_urls
from integrations.models import CheckStatus, ConnectionState, ExotelConnection, ShopifyConnection
from integrations.shopify.services import shopify_webhook_url


class SecretStateSerializer(serializers.Serializer):
    is_set = serializers.BooleanField()
    last4 = serializers.CharField(help_text="The last four characters of a long secret; empty otherwise.")


class CheckSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CheckStatus.choices)
    message = serializers.CharField()
    checked_at = serializers.DateTimeField(allow_null=True)


STATE_HELP = (
    "verified: the provider accepted these credentials (for Shopify: for this very shop, which is then "
    "linked to this account); unverified: saved while the provider could not be reached, or refused by a "
    "later check, so nothing is claimed until a check passes (see check.message); uninstalled: Shopify "
    "confirmed the app was uninstalled and the credentials were wiped; disconnected (Exotel): the credentials were "
    "wiped and callbacks are refused, but the callback URLs stay the same for when it is connected again (PUT)."
)


def _check(connection) -> dict:
    return {
        "status": connection.check_status,
        "message": connection.check_message,
        "checked_at": connection.checked_at,
    }


class ExotelSecretsSerializer(serializers.Serializer):
    api_key = SecretStateSerializer()
    api_token = SecretStateSerializer()
    callback_password = SecretStateSerializer()


class CallbackUrlsSerializer(serializers.Serializer):
    status_callback = serializers.URLField(help_text="Paste as the StatusCallback of your Exotel flows and calls.")
    passthru = serializers.URLField(help_text="Paste into a Passthru applet (GET).")


class ExotelConnectionSerializer(serializers.ModelSerializer):
    """The callback URLs carry the connection's webhook token: they are shown to admins only, who must
    paste them into Exotel; rotate the token to invalidate old URLs."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.ChoiceField(
        source="state", choices=ConnectionState.choices, read_only=True, help_text=STATE_HELP
    )
    secrets = serializers.SerializerMethodField()
    callback_urls = serializers.SerializerMethodField()
    check = serializers.SerializerMethodField()

    class Meta:
        model = ExotelConnection
        fields = [
            "id",
            "status",
            "verified_at",
            "account_sid",
            "api_host",
            "caller_ids",
            "callback_username",
            "secrets",
            "callback_urls",
            "check",
            "created_at",
            "updated_at",
        ]

    def get_secrets(self, connection) -> ExotelSecretsSerializer:
        summary = connection.secret_summary()
        return {name: summary[name] for name in ("api_key", "api_token", "callback_password")}

    def get_callback_urls(self, connection) -> CallbackUrlsSerializer:
        return exotel_callback_urls(connection=connection)

    def get_check(self, connection) -> CheckSerializer:
        return _check(connection)


class ExotelConnectionWriteSerializer(RequestSerializer):
    """Secrets left out (or empty) keep their stored value."""

    account_sid = serializers.CharField(max_length=64)
    api_key = serializers.CharField(max_length=200, write_only=True, required=False, allow_blank=True)
    api_token = serializers.CharField(max_length=200, write_only=True, required=False, allow_blank=True)
    api_host = serializers.ChoiceField(choices=[], required=False)
    caller_ids = serializers.ListField(child=serializers.CharField(max_length=16), max_length=50, required=False)
    callback_username = serializers.CharField(max_length=100, required=False, allow_blank=True)
    callback_password = serializers.CharField(max_length=200, write_only=True, required=False, allow_blank=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["api_host"].choices = [(host, host) for host in settings.EXOTEL_API_HOSTS]


class ShopifySecretsSerializer(serializers.Serializer):
    access_token = SecretStateSerializer()
    webhook_secret = SecretStateSerializer()


class SyncSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="running, ok, failed, or empty before the first sync.")
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    error = serializers.CharField()


class ShopifyConnectionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.ChoiceField(
        source="state", choices=ConnectionState.choices, read_only=True, help_text=STATE_HELP
    )
    secrets = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()
    check = serializers.SerializerMethodField()
    sync = serializers.SerializerMethodField()

    class Meta:
        model = ShopifyConnection
        fields = [
            "id",
            "status",
            "verified_at",
            "uninstalled_at",
            "shop_domain",
            "api_version",
            "secrets",
            "webhook_url",
            "check",
            "sync",
            "created_at",
            "updated_at",
        ]

    def get_secrets(self, connection) -> ShopifySecretsSerializer:
        return connection.secret_summary()

    def get_webhook_url(self, connection) -> str:
        return shopify_webhook_url(connection=connection)

    def get_check(self, connection) -> CheckSerializer:
        return _check(connection)

    def get_sync(self, connection) -> SyncSerializer:
        return {
            "status": connection.last_sync_status,
            "started_at": connection.last_sync_started_at,
            "finished_at": connection.last_sync_at,
            "counts": connection.last_sync_counts,
            "error": connection.last_sync_error,
        }


class ShopifyConnectionWriteSerializer(RequestSerializer):
    shop_domain = serializers.CharField(max_length=100)
    access_token = serializers.CharField(max_length=500, write_only=True, required=False, allow_blank=True)
    webhook_secret = serializers.CharField(max_length=500, write_only=True, required=False, allow_blank=True)
    api_version = serializers.CharField(max_length=7, required=False)


def integrations_serializer(connection_serializers: Mapping[str, type[serializers.Serializer]]) -> type:
    """The client's connections, one field per provider key (null when not connected)."""
    fields = {key: serializer(allow_null=True) for key, serializer in connection_serializers.items()}
    return type("IntegrationsSerializer", (serializers.Serializer,), {"__module__": __name__, **fields})


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class SyncRequestSerializer(serializers.Serializer):
    queued = serializers.BooleanField(help_text="False when a sync was already running.")
    sync = SyncSerializer()
