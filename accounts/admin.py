"""The admin Caly staff use: clients, users, sign-ins, invitations, the audit log and the staff audit log.

Every change staff make to who may sign in is audited with the staff member as actor and ends
the sign-ins it should end, so a deactivation takes effect on the API at once. Sensitive changes
(who is staff or superuser, e-mail addresses, passwords, deletions, two-factor resets) ask for a
fresh two-factor code first (accounts/staff_auth.py).
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.html import format_html
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import api_keys, services, staff_auth
from accounts.models import (
    ApiKey,
    AuditEvent,
    Client,
    Invitation,
    RefreshFamily,
    StaffAuditEvent,
    User,
)

# django-otp's own device pages would show other staff members' recovery codes and let staff attach
# an authenticator to someone else's account: enrolment is the staff member's own page, reset an action.
admin.site.unregister([TOTPDevice, StaticDevice])


class RecheckMixin:
    """Deletions and the listed bulk actions ask for a fresh two-factor code first."""

    sensitive_actions: frozenset[str] = frozenset({"delete_selected"})

    def delete_view(self, request, object_id, extra_context=None):
        recheck = staff_auth.recheck_redirect(request, request.get_full_path())
        return recheck or super().delete_view(request, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        # Any sensitive name among the posted actions counts: Django picks one of several by `index`.
        if request.method == "POST" and self.sensitive_actions.intersection(request.POST.getlist("action")):
            recheck = staff_auth.recheck_redirect(request, request.get_full_path())
            if recheck is not None:
                return recheck
        return super().changelist_view(request, extra_context)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(RecheckMixin, DjangoGroupAdmin):
    """A group grants its permissions to every member at once: adding or changing one asks for a fresh code."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST":
            recheck = staff_auth.recheck_redirect(request, request.path)
            if recheck is not None:
                return recheck
        return super().changeform_view(request, object_id, form_url, extra_context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows read here and never added, changed or deleted through the admin, superusers included."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


# --- clients ------------------------------------------------------------------------------------


class ClientUserInline(admin.TabularInline):
    """The client's people at a glance; users are added by invitation and changed on their own page."""

    model = User
    fk_name = "client"
    fields = ["email", "role", "is_active", "last_login"]
    readonly_fields = fields
    ordering = ["email"]
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Client)
class ClientAdmin(RecheckMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "timezone", "created_at"]
    list_filter = ["is_active", "onboarding_step", "timezone"]
    search_fields = ["name", "slug", "public_id"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["public_id", "created_at", "updated_at"]
    fieldsets = [
        (
            "Company",
            {"fields": ["name", "slug", "public_id", "timezone", "country", "is_active", "created_at", "updated_at"]},
        ),
        (
            "Recordings",
            {"fields": ["recording_retention_days"]},
        ),
        ("Onboarding", {"fields": ["onboarding_step", "onboarding_completed_at"]}),
    ]
    inlines = [ClientUserInline]
    actions = ["deactivate_clients", "activate_clients"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:  # the same effects and audit as the actions
            services.client_set_active(client=obj, actor=request.user, active=obj.is_active)

    @admin.action(description="Deactivate selected clients", permissions=["change"])
    def deactivate_clients(self, request, queryset) -> None:
        changed, unchanged, ended = services.clients_set_active(
            client_ids=list(queryset.values_list("pk", flat=True)), actor=request.user, active=False
        )
        message = f"Deactivated {changed} client{pluralize(changed)}; ended {ended} sign-in{pluralize(ended)}."
        if unchanged:
            message += f" {unchanged} {pluralize(unchanged, 'was,were')} already inactive."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Activate selected clients", permissions=["change"])
    def activate_clients(self, request, queryset) -> None:
        changed, unchanged, _ = services.clients_set_active(
            client_ids=list(queryset.values_list("pk", flat=True)), actor=request.user, active=True
        )
        message = f"Activated {changed} client{pluralize(changed)}."
        if unchanged:
            message += f" {unchanged} {pluralize(unchanged, 'was,were')} already active."
        self.message_user(request, message, messages.SUCCESS)


# --- users --------------------------------------------------------------------------------------


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email", "client", "role"]


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


# Changing these on a user's page asks for a fresh two-factor code first.
SENSITIVE_USER_FIELDS = frozenset({"email", "is_staff", "is_superuser", "groups", "user_permissions"})


@admin.register(User)
class UserAdmin(RecheckMixin, DjangoUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ["email"]
    list_display = ["email", "client", "role", "is_active", "is_staff", "two_factor", "last_login"]
    list_filter = ["client", "role", "is_active", "is_staff"]
    list_select_related = ["client"]
    search_fields = ["email", "first_name", "last_name"]
    autocomplete_fields = ["client"]
    readonly_fields = ["public_id", "email_verified_at", "token_version", "two_factor"]
    fieldsets = [
        (None, {"fields": ["email", "password", "public_id"]}),
        ("Person", {"fields": ["first_name", "last_name"]}),
        ("Client", {"fields": ["client", "role"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions", "two_factor"]}),
        ("Verification and tokens", {"fields": ["email_verified_at", "token_version"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "client", "role", "password1", "password2"]})]
    actions = ["reset_two_factor"]
    sensitive_actions = frozenset({"delete_selected", "reset_two_factor"})

    def get_queryset(self, request):
        enrolled = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(two_factor_enrolled=Exists(enrolled))

    @admin.display(description="2FA", boolean=True, ordering="two_factor_enrolled")
    def two_factor(self, obj: User) -> bool:
        return obj.two_factor_enrolled

    def has_reset_two_factor_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.action(description="Reset two-factor authentication", permissions=["reset_two_factor"])
    def reset_two_factor(self, request, queryset) -> None:
        staff = list(queryset.filter(is_staff=True))
        reset = sum(staff_auth.two_factor_reset(user=user, actor=request.user, channel="admin") for user in staff)
        message = f"Reset two-factor authentication of {reset} staff member{pluralize(reset)}"
        message += "; they set up an authenticator app at their next sign-in."
        if len(staff) > reset:
            message += f" {len(staff) - reset} had none."
        self.message_user(request, message, messages.SUCCESS)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and object_id and self._changes_sensitive_fields(request, object_id):
            recheck = staff_auth.recheck_redirect(request, request.path)
            if recheck is not None:
                return recheck
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _changes_sensitive_fields(self, request, object_id) -> bool:
        user = self.get_object(request, unquote(object_id))
        if user is None:
            return False  # Django's own view answers for a missing user
        form = self.get_form(request, user, change=True)(request.POST, request.FILES, instance=user)
        return bool(SENSITIVE_USER_FIELDS & set(form.changed_data))

    def user_change_password(self, request, id, form_url=""):
        recheck = staff_auth.recheck_redirect(request, request.path)
        if recheck is not None:
            return recheck
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # the new password was saved
            services.password_set_by_staff(user=self.get_object(request, unquote(id)), actor=request.user)
        return response

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)  # changeform_view runs all of this in one transaction
        if change:
            services.user_changed_by_staff(
                user=obj,
                actor=request.user,
                old_role=form.initial.get("role", ""),
                role_changed="role" in form.changed_data,
                active_changed="is_active" in form.changed_data,
            )


# --- sign-ins -----------------------------------------------------------------------------------


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked_at__isnull=self.value() == "no")
        return queryset


class ExpiredFilter(admin.SimpleListFilter):
    title = "expired"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=timezone.now())
        if self.value() == "no":
            return queryset.filter(expires_at__gt=timezone.now())
        return queryset


@admin.register(RefreshFamily)
class RefreshFamilyAdmin(ReadOnlyAdmin):
    """Sign-ins are read-only here: staff may revoke them; `purge_refresh_families` deletes ended ones."""

    list_display = ["user", "created_at", "expires_at", "revoked_at", "revoked_reason", "rotation_count", "ip"]
    list_filter = [RevokedFilter, ExpiredFilter]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    ordering = ["-created_at"]
    # The refresh-token ids stay out of sight: staff never need them.
    fields = [
        "id",
        "user",
        "created_at",
        "expires_at",
        "rotated_at",
        "rotation_count",
        "revoked_at",
        "revoked_reason",
        "ip",
        "user_agent",
    ]
    readonly_fields = fields
    actions = ["revoke_families"]

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_refreshfamily")

    @admin.action(description="Revoke selected sign-ins", permissions=["revoke"])
    def revoke_families(self, request, queryset) -> None:
        pks = list(queryset.values_list("pk", flat=True))
        revoked = services.families_revoke_by_staff(family_ids=pks, actor=request.user)
        message = f"Revoked {revoked} sign-in{pluralize(revoked)}."
        if len(pks) > revoked:
            message += f" {len(pks) - revoked} had already been revoked."
        self.message_user(request, message, messages.SUCCESS)


# --- API keys -----------------------------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Clients' API keys, read-only (only an HMAC of each is stored); staff may revoke them."""

    list_display = ["name", "prefix", "client", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = [RevokedFilter, "scope"]
    list_select_related = ["client", "created_by"]
    search_fields = ["prefix", "name", "client__name", "created_by__email"]
    ordering = ["-created_at"]
    fields = [
        "public_id",
        "client",
        "name",
        "prefix",
        "scope",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields
    actions = ["revoke_keys"]

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_apikey")

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke_keys(self, request, queryset) -> None:
        keys = list(queryset.select_related("client").filter(revoked_at__isnull=True))
        for key in keys:
            api_keys.api_key_revoke(client=key.client, actor=request.user, api_key=key)
        self.message_user(request, f"Revoked {len(keys)} API key{pluralize(len(keys))}.", messages.SUCCESS)


# --- invitations --------------------------------------------------------------------------------


class InvitationStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("accepted", "Accepted"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        open_ = queryset.filter(accepted_at__isnull=True, revoked_at__isnull=True)
        match self.value():
            case "pending":
                return open_.filter(expires_at__gt=timezone.now())
            case "expired":
                return open_.filter(expires_at__lte=timezone.now())
            case "accepted":
                return queryset.filter(accepted_at__isnull=False)
            case "revoked":
                return queryset.filter(accepted_at__isnull=True, revoked_at__isnull=False)
        return queryset


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: clients' admins invite and revoke through the API, which e-mails the token and audits it."""

    list_display = ["email", "client", "role", "status", "invited_by", "created_at", "expires_at"]
    list_filter = [InvitationStatusFilter, "role", "client"]
    list_select_related = ["client", "invited_by"]
    search_fields = ["email"]
    ordering = ["-created_at"]
    fields = [
        "email",
        "client",
        "role",
        "public_id",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_user",
        "revoked_at",
        "token_sha256",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


# --- audit log ----------------------------------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The append-only log: staff read it, nobody adds, changes or deletes (the model refuses too)."""

    list_display = ["created_at", "client", "action", "actor", "target_type", "target_id", "ip", "request_id"]
    list_filter = ["action", "client"]
    list_select_related = ["client", "actor"]
    search_fields = ["=request_id", "=target_id", "actor__email"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    show_full_result_count = False  # the log only grows; skip the second COUNT(*) on searches
    actions = None
    fields = [
        "created_at",
        "client",
        "action",
        "actor",
        "target_type",
        "target_id",
        "ip",
        "user_agent",
        "request_id",
        "public_id",
        "metadata_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="metadata")
    def metadata_pretty(self, obj: AuditEvent) -> str:
        return _pretty_json(obj.metadata)


# --- staff audit log ----------------------------------------------------------------------------


@admin.register(StaffAuditEvent)
class StaffAuditEventAdmin(ReadOnlyAdmin):
    """Staff sign-ins, refusals and two-factor changes: read here, never added, changed or deleted."""

    list_display = ["created_at", "action", "email", "actor", "ip", "request_id"]
    list_filter = ["action", ("actor", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["actor"]
    search_fields = ["email", "actor__email", "=request_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    show_full_result_count = False
    actions = None
    fields = ["created_at", "action", "email", "actor", "ip", "user_agent", "request_id", "details_pretty"]
    readonly_fields = fields

    @admin.display(description="details")
    def details_pretty(self, obj: StaffAuditEvent) -> str:
        return _pretty_json(obj.details)
