from django.contrib.auth.password_validation import password_validators_help_texts
from rest_framework import serializers

from accounts.models import (
    ApiKey,
    ApiKeyStatus,
    AuditAction,
    AuditEvent,
    Client,
    Invitation,
    MemberPhone,
    User,
)
from accounts.roles import ApiKeyScope, Role
from accounts.services import CLIENT_SETTINGS_FIELDS
from caly.foundation.api.serializers import RequestModelSerializer, RequestSerializer

TOKEN_MAX_LENGTH = 1024
PASSWORD_FIELD = {"max_length": 128, "trim_whitespace": False, "write_only": True, "style": {"input_type": "password"}}


def password_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(**PASSWORD_FIELD, help_text=" ".join(password_validators_help_texts()), **kwargs)


class ClientSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Client
        fields = [
            "id",
            "name",
            "slug",
            "timezone",
            "country",
            "is_active",
            "onboarding_step",
            "onboarding_completed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "slug",
            "is_active",
            "onboarding_step",
            "onboarding_completed_at",
            "created_at",
            "updated_at",
        ]


class ClientUpdateSerializer(RequestModelSerializer):
    class Meta:
        model = Client
        fields = list(CLIENT_SETTINGS_FIELDS)
        extra_kwargs = {"name": {"min_length": 1, "max_length": 200}}

    def validate(self, attrs):
        # A field this endpoint does not have (the business settings it once had, a typo) is refused,
        # not silently ignored: the caller would believe it was saved.
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


class RecordingRetentionSerializer(RequestSerializer):
    recording_retention_days = serializers.IntegerField(
        min_value=1,
        max_value=3650,
        allow_null=True,
        help_text="Recordings older than this many days are deleted (daily); null keeps them. Wasabi bills an "
        "object deleted within 90 days of its upload for 90 days, so fewer days save nothing on storage.",
    )


class ProfileSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    email_verified = serializers.BooleanField(read_only=True)
    client = ClientSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "email_verified", "last_login", "client"]
        read_only_fields = ["email", "role", "last_login"]


class ProfileUpdateSerializer(RequestModelSerializer):
    class Meta:
        model = User
        fields = ["first_name", "last_name"]


class MemberSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "is_active", "last_login", "date_joined"]
        read_only_fields = fields


class MemberRoleSerializer(RequestSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.CharField(read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "status",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(RequestSerializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()


class SignInSerializer(serializers.Serializer):
    tokens = TokenPairSerializer()
    user = ProfileSerializer()


class RegisterSerializer(RequestSerializer):
    company_name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    password = password_field()
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    timezone = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class LoginSerializer(RequestSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(**PASSWORD_FIELD)


class RefreshSerializer(RequestSerializer):
    refresh = serializers.CharField(max_length=TOKEN_MAX_LENGTH)


class TokenSerializer(RequestSerializer):
    token = serializers.CharField(max_length=TOKEN_MAX_LENGTH)


class EmailSerializer(RequestSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordChangeSerializer(RequestSerializer):
    current_password = serializers.CharField(**PASSWORD_FIELD)
    new_password = password_field()


class PasswordResetConfirmSerializer(RequestSerializer):
    token = serializers.CharField(max_length=TOKEN_MAX_LENGTH)
    new_password = password_field()


class InvitationAcceptSerializer(RequestSerializer):
    token = serializers.CharField(max_length=TOKEN_MAX_LENGTH)
    password = password_field()
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class MessageSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AuditEventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    actor = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "action",
            "actor",
            "target_type",
            "target_id",
            "ip",
            "user_agent",
            "request_id",
            "metadata",
            "created_at",
        ]
        read_only_fields = fields

    def get_actor(self, event) -> dict | None:
        if event.actor is None:
            return None
        return {"id": str(event.actor.public_id), "email": event.actor.email}


class AuditEventFilterSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=AuditAction.choices, required=False)
    actor = serializers.UUIDField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class PhoneMemberSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(source="get_full_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "name", "email"]
        read_only_fields = fields


class PhoneSerializer(serializers.ModelSerializer):
    """A member's phone number: calls Exotel connects to it are theirs, and click-to-call rings it."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    member = PhoneMemberSerializer(source="user", read_only=True)

    class Meta:
        model = MemberPhone
        fields = ["id", "number", "label", "member", "created_at"]
        read_only_fields = fields


class PhoneCreateSerializer(RequestSerializer):
    number = serializers.CharField(
        max_length=64,
        help_text="Your phone number; without a country code it is read as your company's country's (+919876543210).",
    )
    label = serializers.CharField(
        max_length=40, required=False, allow_blank=True, default="", help_text="Mobile, desk…"
    )


class TeamPhoneCreateSerializer(PhoneCreateSerializer):
    member = serializers.UUIDField(help_text="The member's id (GET /api/v1/team/members).")


class ApiKeySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.ChoiceField(choices=ApiKeyStatus.choices, read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True)
    capabilities = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "capabilities",
            "status",
            "created_by",
            "created_at",
            "expires_at",
            "last_used_at",
            "last_used_ip",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_capabilities(self, key) -> list[str]:
        """What the scope allows (the creator's role bounds it further)."""
        return sorted(key.capabilities)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The whole key. It is shown this once and never again.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyCreateSerializer(RequestSerializer):
    name = serializers.CharField(max_length=100)
    scope = serializers.ChoiceField(choices=ApiKeyScope.choices)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="ISO 8601 with a time zone; omit for no expiry."
    )
