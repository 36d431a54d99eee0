"""How the API shows and reads webhook endpoints and their deliveries."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from caly.foundation.api.serializers import RequestSerializer
from integrations.outbound.models import (
    EVENT_TYPES,
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    DisabledReason,
    OutboundAttempt,
    OutboundDelivery,
    WebhookEndpoint,
)
from integrations.outbound.services import MAX_OVERLAP_HOURS

EVENT_TYPE_CHOICES = list(EVENT_TYPES.items())


class EndpointSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES))
    enabled = serializers.BooleanField(source="is_enabled")
    disabled_reason = serializers.SerializerMethodField(help_text="Why it is disabled; null while enabled.")
    previous_secret_expires_at = serializers.SerializerMethodField(
        help_text="While set, deliveries are signed with the previous secret too (two signatures)."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_reason",
            "disabled_message",
            "disabled_at",
            "failing_since",
            "last_success_at",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=DisabledReason.choices, allow_null=True))
    def get_disabled_reason(self, endpoint) -> str | None:
        return endpoint.disabled_reason or None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_previous_secret_expires_at(self, endpoint) -> str | None:
        expires = endpoint.previous_secret_expires_at
        if not endpoint.previous_secret or expires is None:
            return None
        return serializers.DateTimeField().to_representation(expires)


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="whsec_<base64>: verify each delivery's signature with it."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="whsec_<base64>")
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)


class EndpointCreateSerializer(RequestSerializer):
    url = serializers.CharField(max_length=MAX_URL_LENGTH, help_text="https://… at a public address.")
    description = serializers.CharField(max_length=MAX_DESCRIPTION_LENGTH, required=False, default="", allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES), min_length=1, max_length=len(EVENT_TYPES) * 2
    )


class EndpointUpdateSerializer(RequestSerializer):
    url = serializers.CharField(max_length=MAX_URL_LENGTH, required=False)
    description = serializers.CharField(max_length=MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
        min_length=1,
        max_length=len(EVENT_TYPES) * 2,
        required=False,
    )
    enabled = serializers.BooleanField(
        required=False, help_text="false stops deliveries (pending ones are cancelled); true starts them again."
    )


class RotateSerializer(RequestSerializer):
    overlap_hours = serializers.IntegerField(
        min_value=0,
        max_value=MAX_OVERLAP_HOURS,
        required=False,
        default=24,
        help_text="How long deliveries are signed with the old secret as well (0: not at all).",
    )


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboundAttempt
        fields = ["number", "started_at", "duration_ms", "status_code", "succeeded", "response_excerpt", "error"]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    endpoint_id = serializers.UUIDField(source="endpoint.public_id", read_only=True)
    event_id = serializers.CharField(source="event.webhook_id", read_only=True, help_text="The webhook-id header.")
    event_type = serializers.CharField(source="event.type", read_only=True)
    manual = serializers.BooleanField(source="is_manual", read_only=True)
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = OutboundDelivery
        fields = [
            "id",
            "endpoint_id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "manual",
            "created_at",
            "updated_at",
            "attempt_log",
        ]
        read_only_fields = fields
