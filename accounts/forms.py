"""Forms of the account pages: field types and shapes only.

The rules (password strength, duplicates, the last owner…) are the services'; a form shows a
service's DomainError next to the field it names.
"""

from __future__ import annotations

import math
import zoneinfo
from datetime import datetime, time, timedelta
from functools import cache

import phonenumbers
from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.core.exceptions import ValidationError

from accounts.models import Client, User
from accounts.roles import SCOPE_CAPABILITIES, ApiKeyScope, Role
from accounts.services import CLIENT_SETTINGS_FIELDS
from caly.foundation.errors import DomainError, ErrorCode


def rate_limited_message(error: DomainError) -> str:
    seconds = error.retry_after if error.retry_after is not None else 60
    if seconds < 60:
        wait = f"{seconds} second{'s' if seconds != 1 else ''}"
    else:
        minutes = math.ceil(seconds / 60)
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Too many attempts. Please wait {wait} and try again."


class ServiceForm(forms.Form):
    # The services' names for fields this form calls differently.
    field_aliases: dict[str, str] = {}

    def add_service_error(self, error: DomainError, *, field: str | None = None) -> None:
        """Show a service's refusal: VALIDATION_ERROR details by field, anything else on `field` (or the form)."""
        if error.code == ErrorCode.RATE_LIMITED:
            self.add_error(None, rate_limited_message(error))
        elif error.code == ErrorCode.VALIDATION_ERROR and isinstance(error.details, dict):
            for name, problems in error.details.items():
                name = self.field_aliases.get(name, name)
                self.add_error(name if name in self.fields else None, problems)
        else:
            self.add_error(field, error.message)


def _check_new_password(form: forms.Form, field: str, user: User | None) -> None:
    """Django's password validators at once, so every problem shows in one round (the service checks again)."""
    password = form.cleaned_data.get(field)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            form.add_error(field, exc)


def _text(autocomplete: str, **attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": autocomplete, **attrs})


def _email_field(label: str = "Email") -> forms.EmailField:
    return forms.EmailField(
        label=label, max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )


def _password_field(label: str, autocomplete: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=128,
        strip=False,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


def _first_name_field() -> forms.CharField:
    return forms.CharField(label="First name", max_length=150, required=False, widget=_text("given-name"))


def _last_name_field() -> forms.CharField:
    return forms.CharField(label="Last name", max_length=150, required=False, widget=_text("family-name"))


class SignupForm(ServiceForm):
    company_name = forms.CharField(label="Company name", max_length=200, widget=_text("organization", autofocus=True))
    first_name = _first_name_field()
    last_name = _last_name_field()
    email = forms.EmailField(
        label="Work email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = _password_field("Password", "new-password", password_validators_help_text_html())

    field_aliases = {"name": "company_name"}

    def clean(self):
        cleaned = super().clean()
        owner = User(
            email=cleaned.get("email", ""),
            first_name=cleaned.get("first_name", ""),
            last_name=cleaned.get("last_name", ""),
        )
        _check_new_password(self, "password", owner)
        return cleaned


class EmailForm(ServiceForm):
    email = _email_field()


class LoginForm(ServiceForm):
    email = _email_field()
    password = _password_field("Password", "current-password")


class NewPasswordForm(ServiceForm):
    """A new password, typed twice, for `user` (the validators compare it with the user's details)."""

    new_password1 = _password_field("New password", "new-password", password_validators_help_text_html())
    new_password2 = _password_field("New password again", "new-password")

    field_aliases = {"password": "new_password1", "new_password": "new_password1"}

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", "The two passwords differ.")
        _check_new_password(self, "new_password1", self.user)
        return cleaned


class InvitationAcceptForm(NewPasswordForm):
    first_name = _first_name_field()
    last_name = _last_name_field()

    field_order = ["first_name", "last_name", "new_password1", "new_password2"]


class PasswordChangeForm(NewPasswordForm):
    current_password = _password_field("Current password", "current-password")

    field_order = ["current_password", "new_password1", "new_password2"]


class ProfileForm(ServiceForm):
    first_name = _first_name_field()
    last_name = _last_name_field()


class InvitationForm(ServiceForm):
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.AGENT)


class MemberRoleForm(ServiceForm):
    role = forms.ChoiceField(choices=Role.choices)


@cache
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def country_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(phonenumbers.SUPPORTED_REGIONS)]


class CompanyForm(ServiceForm):
    """The company's details (accounts.services.CLIENT_SETTINGS_FIELDS), typed and bounded from the model's fields."""

    labels = {
        "name": "Company name",
        "timezone": "Time zone",
        "country": "Country (two letters, such as IN)",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(forms.fields_for_model(Client, fields=CLIENT_SETTINGS_FIELDS, labels=self.labels))
        self.fields["timezone"] = forms.ChoiceField(label=self.labels["timezone"], choices=timezone_choices)
        # Not required: a form posted without it (an older page) keeps the country the company has.
        self.fields["country"] = forms.ChoiceField(
            label=self.labels["country"], choices=[("", "—"), *country_choices()], required=False
        )
        self.fields["name"].widget.attrs.update(autocomplete="organization", autofocus=True)

    def clean_country(self) -> str:
        return self.cleaned_data["country"] or self.initial.get("country") or Client._meta.get_field("country").default


class OnboardClientForm(ServiceForm):
    """Staff onboard a client in the admin: the same inputs as `manage.py onboard_client`."""

    name = forms.CharField(label="Company name", max_length=200)
    owner_email = forms.EmailField(label="Owner's email", max_length=254, help_text="The set-up link is sent here.")
    timezone = forms.ChoiceField(
        label="Time zone", choices=timezone_choices, initial=Client._meta.get_field("timezone").default
    )
    demo_data = forms.BooleanField(
        label="Add demo data", required=False, help_text="Demo calls with recordings, and demo products."
    )


class PhoneForm(ServiceForm):
    """A phone number for oneself, or (admins and owners) for any member: `members` lists whom it may be for
    (none chosen: oneself)."""

    number = forms.CharField(
        label="Phone number",
        max_length=64,
        help_text="With its country code (+91 98765 43210); without one it is read as your company's country's.",
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "+91 98765 43210"}),
    )
    label = forms.CharField(
        label="Label",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "Mobile, desk…"}),
    )

    def __init__(self, *args, members=None, **kwargs):
        super().__init__(*args, **kwargs)
        if members is not None:
            self.fields["member"] = forms.ModelChoiceField(
                label="Member", queryset=members, to_field_name="public_id", empty_label=None, required=False
            )
            self.fields["member"].label_from_instance = lambda user: f"{user.get_full_name()} ({user.email})"
            self.order_fields(["member", "number", "label"])


class ApiKeyForm(ServiceForm):
    """A new API key: name, scope (only those within the creator's role) and an optional last day."""

    field_aliases = {"expires_at": "valid_through"}

    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What uses it, for example “Warehouse sync”.",
        widget=_text("off"),
    )
    scope = forms.ChoiceField(label="Access")
    valid_through = forms.DateField(
        label="Valid through",
        required=False,
        help_text="Optional: the key stops working at the end of this day (your company's time zone).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = [
            (scope.value, scope.label) for scope in ApiKeyScope if SCOPE_CAPABILITIES[scope] <= user.capabilities
        ]
        self.time_zone = zoneinfo.ZoneInfo(user.client.timezone) if user.client else zoneinfo.ZoneInfo("UTC")

    def expires_at(self) -> datetime | None:
        """The end of the chosen day in the company's time zone, or None."""
        day = self.cleaned_data.get("valid_through")
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=self.time_zone)
