"""The tenant (Client), its users with their roles, invitations, refresh-token families and both audit logs."""

from __future__ import annotations

import uuid
import zoneinfo
from typing import ClassVar

import phonenumbers
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.roles import ROLE_CAPABILITIES, SCOPE_CAPABILITIES, ApiKeyScope, Capability, Role
from caly.foundation.tenancy import TenantQuerySet


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("%(value)s is not a known time zone.", params={"value": value})


def validate_country(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError("%(value)s is not a known country code (ISO 3166, two letters).", params={"value": value})


class OnboardingStep(models.TextChoices):
    COMPANY = "company", "Company details"
    EXOTEL = "exotel", "Connect Exotel"
    SHOPIFY = "shopify", "Connect Shopify"
    DONE = "done", "Done"


class Client(models.Model):
    """A company using Caly: the tenant every other row belongs to."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    is_active = models.BooleanField(default=True)
    timezone = models.CharField(max_length=64, default="Asia/Kolkata", validators=[validate_timezone])
    country = models.CharField(
        max_length=2,
        default="IN",
        validators=[validate_country],
        help_text="Two letters (ISO 3166): phone numbers written without a country code are read as this country's.",
    )

    recording_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Recordings older than this are deleted; empty keeps them.",
    )

    onboarding_step = models.CharField(max_length=20, choices=OnboardingStep.choices, default=OnboardingStep.COMPANY)
    onboarding_completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserQuerySet(TenantQuerySet):
    pass


# mypy cannot take a class made by from_queryset() as a base (django-stubs#1699); Django needs this shape for
# migrations (use_in_migrations), so the one ignore stays.
class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def get_by_natural_key(self, email: str):
        return self.get(email=self.normalize_email(email).lower())

    def _create(self, email: str, password: str | None, **fields) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.update(is_staff=True, is_superuser=True, client=None, role="")
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Someone who logs in: a client's person (client set) or Caly staff (no client)."""

    # Always stored lower-case (a constraint enforces it), so `unique` is case-insensitive and
    # lookups by the lower-cased address use the unique index directly.
    email = models.EmailField(max_length=254, unique=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="users", db_index=False
    )
    role = models.CharField(
        max_length=10, choices=Role.choices, blank=True, help_text="A client user's role; staff have none."
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Caly staff: may use the admin; belongs to no client.")
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Bumped when the password changes or the user is deactivated: every access token carries it,
    # so outstanding tokens stop working at once.
    token_version = models.PositiveIntegerField(default=0, editable=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")),
                name="accounts_user_email_lowercase",
                violation_error_message="Email addresses are stored in lower case.",
            ),
            models.CheckConstraint(
                condition=models.Q(is_staff=False) | models.Q(client__isnull=True),
                name="accounts_user_staff_has_no_client",
                violation_error_message="Staff users belong to no client.",
            ),
            models.CheckConstraint(
                condition=(models.Q(client__isnull=True) & models.Q(role=""))
                | (models.Q(client__isnull=False) & models.Q(role__in=Role.values)),
                name="accounts_user_role_iff_client",
                violation_error_message="A client's user has a role; a user without a client has none.",
            ),
        ]
        indexes = [models.Index(fields=["client", "role"], name="accounts_user_client_role")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def save(self, *args, **kwargs) -> None:
        self.email = self.__class__.objects.normalize_email(self.email).lower()
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this user's role allows; nothing for staff (no client)."""
        if self.client_id is None or self.role not in ROLE_CAPABILITIES:
            return frozenset()
        return ROLE_CAPABILITIES[Role(self.role)]


E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
MAX_PHONES_PER_MEMBER = 5


class MemberPhone(models.Model):
    """A phone number a member takes and places calls on; calls are attributed to its member by it.

    Unique within the client: a number rings one person, so a call on it has one agent.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="phones")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(
        max_length=16,
        validators=[
            RegexValidator(E164_PATTERN, "Enter a phone number in E.164 form, such as +919876543210."),
        ],
        help_text="E.164.",
    )
    label = models.CharField(max_length=40, blank=True, help_text="Mobile, desk…")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "number"],
                name="accounts_memberphone_unique_number",
                violation_error_message="Another member of your company has this number.",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Invitation(models.Model):
    """An invitation to join a client with a role; single-use, expiring. Only a hash of the token is kept."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="invitations", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    token_sha256 = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["client", "-created_at"], name="accounts_inv_client_created")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email=Lower("email")), name="accounts_invitation_email_lowercase"
            ),
            models.UniqueConstraint(
                fields=["client", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="accounts_invitation_one_open_per_email",
                violation_error_message="This address already has an open invitation.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.client}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class RefreshFamily(models.Model):
    """One sign-in: the chain of refresh tokens rotated from it, with an absolute end.

    Only the newest refresh token (`current_jti`) is valid. Presenting an older one means a token
    was copied: the whole family is revoked.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_families", db_index=False)
    current_jti = models.CharField(max_length=64)
    previous_jti = models.CharField(max_length=64, blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    rotation_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="Absolute: rotation never extends it.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name_plural = "refresh families"
        indexes = [
            models.Index(fields=["user", "revoked_at"], name="accounts_family_user_revoked"),
            models.Index(fields=["expires_at"], name="accounts_family_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.id}"


class AuditAction(models.TextChoices):
    LOGIN_SUCCEEDED = "login.succeeded", "Login succeeded"
    LOGIN_FAILED = "login.failed", "Login failed"
    LOGOUT = "logout", "Logged out"
    TOKEN_REUSE_DETECTED = "token.reuse_detected", "Refresh token reuse detected; family revoked"
    CLIENT_REGISTERED = "client.registered", "Client registered"
    EMAIL_VERIFIED = "email.verified", "Email address verified"
    PASSWORD_CHANGED = "password.changed", "Password changed"
    PASSWORD_RESET_REQUESTED = "password.reset_requested", "Password reset requested"
    PASSWORD_RESET = "password.reset", "Password reset"
    PROFILE_UPDATED = "user.profile_updated", "Profile updated"
    USER_INVITED = "user.invited", "User invited"
    INVITATION_REVOKED = "invitation.revoked", "Invitation revoked"
    USER_JOINED = "user.joined", "User joined"
    USER_ROLE_CHANGED = "user.role_changed", "User role changed"
    USER_DEACTIVATED = "user.deactivated", "User deactivated"
    USER_ACTIVATED = "user.activated", "User activated"
    CLIENT_SETTINGS_CHANGED = "client.settings_changed", "Client settings changed"
    CLIENT_DEACTIVATED = "client.deactivated", "Client deactivated"
    CLIENT_ACTIVATED = "client.activated", "Client activated"
    FAMILY_REVOKED = "token.family_revoked", "Sign-in revoked by staff"
    CALL_UPDATED = "call.updated", "Call updated"
    RECORDING_DOWNLOADED = "recording.downloaded", "Recording played or downloaded"
    RECORDING_DELETED = "recording.deleted", "Recording deleted"
    CALLS_EXPORTED = "calls.exported", "Calls exported as CSV"
    CALL_PLACED = "call.placed", "Call placed"
    RECORDING_FETCH_RETRIED = "recording.fetch_retried", "Recording fetch retried"
    INTEGRATION_CONNECTED = "integration.connected", "Integration connected"
    INTEGRATION_UPDATED = "integration.updated", "Integration updated"
    INTEGRATION_DISCONNECTED = "integration.disconnected", "Integration disconnected"
    PRODUCT_SYNC_REQUESTED = "products.sync_requested", "Product sync requested"
    WEBHOOK_REPROCESSED = "webhook.reprocessed", "Webhook event reprocessed"
    SHOPIFY_DATA_REQUESTED = "shopify.data_requested", "Shopify customer data request answered"
    SHOPIFY_DATA_DOWNLOADED = "shopify.data_downloaded", "Customer data file downloaded"
    SHOPIFY_CUSTOMER_REDACTED = "shopify.customer_redacted", "Shopify customer's data erased"
    SHOPIFY_SHOP_REDACTED = "shopify.shop_redacted", "Shopify store's data erased"
    SHOPIFY_CUSTOMERS_PURGED = "shopify.customers_purged", "Inactive Shopify customers removed"
    SHOPIFY_CUSTOMER_VIEWED = "shopify.customer_viewed", "Shopify customer viewed by Caly staff"
    TAG_CREATED = "tag.created", "Tag created"
    TAG_UPDATED = "tag.updated", "Tag renamed or recoloured"
    TAG_DELETED = "tag.deleted", "Tag deleted"
    CALL_TAGS_CHANGED = "call.tags_changed", "Call tags changed"
    PHONE_ADDED = "phone.added", "Phone number registered"
    PHONE_REMOVED = "phone.removed", "Phone number removed"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_FIRST_USED = "api_key.first_used", "API key used for the first time"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created", "Webhook endpoint added"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated", "Webhook endpoint changed"
    WEBHOOK_ENDPOINT_ENABLED = "webhook_endpoint.enabled", "Webhook endpoint enabled"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled", "Webhook endpoint disabled"
    WEBHOOK_SECRET_ROTATED = "webhook_endpoint.secret_rotated", "Webhook signing secret rotated"
    WEBHOOK_SECRET_REVEALED = "webhook_endpoint.secret_revealed", "Webhook signing secret viewed"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted", "Webhook endpoint deleted"
    WEBHOOK_TEST_SENT = "webhook_endpoint.test_sent", "Webhook test event sent"
    WEBHOOK_REDELIVERY_REQUESTED = "webhook_delivery.redelivered", "Webhook delivery sent again"


class AppendOnlyQuerySet(TenantQuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit events are append-only.")

    def delete(self):
        raise TypeError("Audit events are append-only.")

    def dangerously_delete_for_discarded_client(self):
        """The one exception: a company deleted whole (an unverified sign-up purged) takes its log along."""
        return super().delete()


class AuditEvent(models.Model):
    """Who did what to which object, from where, when. Append-only: never updated or deleted."""

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["client", "-created_at", "-id"], name="accounts_audit_client_latest"),
            models.Index(fields=["client", "action", "-created_at"], name="accounts_audit_client_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only.")


class StaffAuditAction(models.TextChoices):
    LOGIN_SUCCEEDED = "login.succeeded", "Password accepted"
    LOGIN_FAILED = "login.failed", "Sign-in failed"
    LOGIN_RATE_LIMITED = "login.rate_limited", "Sign-in refused: too many attempts"
    TWO_FACTOR_ENROLLED = "2fa.enrolled", "Authenticator enrolled"
    TWO_FACTOR_VERIFIED = "2fa.verified", "Code accepted"
    TWO_FACTOR_FAILED = "2fa.failed", "Code refused"
    RECOVERY_CODE_USED = "2fa.recovery_code_used", "Recovery code used"
    RECOVERY_CODES_REPLACED = "2fa.recovery_codes_replaced", "New recovery codes made"
    TWO_FACTOR_RESET = "2fa.reset", "Two-factor authentication reset"


class StaffAuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Staff audit events are append-only.")

    def delete(self):
        raise TypeError("Staff audit events are append-only.")


class StaffAuditEvent(models.Model):
    """A staff sign-in, refusal or second-factor change. Append-only; staff have no client, so not in AuditEvent."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    action = models.CharField(max_length=40, choices=StaffAuditAction.choices)
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="The staff member acting."
    )
    email = models.CharField(
        max_length=254, blank=True, help_text="The address typed at sign-in, or the account the event concerns."
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = StaffAuditQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="accounts_staffaudit_latest"),
            models.Index(fields=["action", "-created_at"], name="accounts_staffaudit_action"),
            models.Index(fields=["email", "-created_at"], name="accounts_staffaudit_email"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.email} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Staff audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Staff audit events are append-only.")


class ApiKeyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class ApiKey(models.Model):
    """A client's API key: `caly_live_<prefix>_<secret>`, shown once; only an HMAC of it is kept.

    It acts as its creator, within its scope: each request may do what both the scope and the
    creator's role allow at that moment, so a creator who is deactivated stops their keys and one
    who loses a role narrows them (accounts/api_keys.py).
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys", db_index=False)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False, help_text="The key's visible part.")
    secret_hmac = models.CharField(max_length=64, editable=False, help_text="HMAC-SHA256 of the whole key, hex.")
    scope = models.CharField(max_length=20, choices=ApiKeyScope.choices)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_keys")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the key does not expire.")
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["client", "-created_at"], name="accounts_apikey_client_created")]

    def __str__(self) -> str:
        return f"{self.name} (caly_live_{self.prefix}_…)"

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What the scope allows; the creator's role bounds it further at each request."""
        return SCOPE_CAPABILITIES[ApiKeyScope(self.scope)]

    @property
    def status(self) -> ApiKeyStatus:
        if self.revoked_at is not None:
            return ApiKeyStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return ApiKeyStatus.EXPIRED
        return ApiKeyStatus.ACTIVE
