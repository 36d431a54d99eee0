"""Forms of the integrations page. Secrets are password inputs that never render a stored value:
left empty, the stored secret is kept (the services' rule)."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings

from accounts.forms import ServiceForm
from integrations.models import ExotelRegion, ProductStatus


def _secret(label: str, *, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=500,
        strip=True,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "spellcheck": "false"}, render_value=False),
    )


def _kept_help(connection, name: str) -> str:
    state = connection.secret_summary()[name] if connection else {"is_set": False}
    if not state["is_set"]:
        return ""
    ending = f" (ends …{state['last4']})" if state.get("last4") else ""
    return f"Set{ending}. Leave empty to keep it."


def _require_unless_kept(form: forms.Form, connection, names: tuple[str, ...]) -> None:
    """A required secret is required until it is stored; then leaving it empty keeps it, which the page says
    instead of calling it optional (the `keeps_stored` mark)."""
    for name in names:
        field = form.fields[name]
        kept = _kept_help(connection, name)
        field.required = not kept
        field.keeps_stored = bool(kept)  # type: ignore[attr-defined]


class ConnectionForm(ServiceForm):
    """A provider's connection settings, filled in from the saved connection (secrets never)."""

    # Fields an empty value clears; any other empty field keeps what is stored.
    clearable: tuple[str, ...] = ()

    def __init__(self, *args, connection=None, **kwargs):
        if connection is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(connection)
        super().__init__(*args, **kwargs)

    @staticmethod
    def initial_for(connection) -> dict:
        return {}

    def connection_fields(self) -> dict:
        """The cleaned fields for the provider's save service: an empty secret keeps the stored one."""
        return {name: value for name, value in self.cleaned_data.items() if value != "" or name in self.clearable}


class ExotelForm(ConnectionForm):
    account_sid = forms.CharField(label="Account SID", max_length=64)
    api_key = _secret("API key")
    api_token = _secret("API token")
    api_host = forms.ChoiceField(label="Region", choices=[])
    caller_ids = forms.CharField(
        label="ExoPhones (caller ids)",
        required=False,
        max_length=1000,
        help_text="Numbers calls may be placed from, in E.164 form (+91…), separated by commas or new lines.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    callback_username = forms.CharField(
        label="Callback user name",
        required=False,
        max_length=100,
        help_text="Optional HTTP Basic credentials Exotel must send with callbacks.",
    )
    callback_password = _secret("Callback password")
    clearable = ("callback_username",)

    def __init__(self, *args, connection=None, **kwargs):
        super().__init__(*args, connection=connection, **kwargs)
        labels = dict(ExotelRegion.choices)
        self.fields["api_host"].choices = [(host, labels.get(host, host)) for host in settings.EXOTEL_API_HOSTS]
        for name in ("api_key", "api_token", "callback_password"):
            self.fields[name].help_text = _kept_help(connection, name) or self.fields[name].help_text
        _require_unless_kept(self, connection, ("api_key", "api_token"))
        self.fields["callback_password"].keeps_stored = bool(_kept_help(connection, "callback_password"))  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(connection) -> dict:
        return {
            "account_sid": connection.account_sid,
            "api_host": connection.api_host,
            "caller_ids": ", ".join(connection.caller_ids),
            "callback_username": connection.callback_username,
        }

    def clean_caller_ids(self) -> list[str]:
        return [number for number in re.split(r"[\s,;]+", self.cleaned_data["caller_ids"]) if number]


class ShopifyForm(ConnectionForm):
    shop_domain = forms.CharField(
        label="Shop domain", max_length=100, help_text="Your-shop.myshopify.com, as in the Shopify admin's address."
    )
    access_token = _secret("Admin API access token")
    webhook_secret = _secret(
        "Webhook signing secret", help_text="The secret Shopify signs webhooks with (shown beside your webhooks)."
    )
    api_version = forms.CharField(label="API version", max_length=7, required=False)

    def __init__(self, *args, connection=None, **kwargs):
        super().__init__(*args, connection=connection, **kwargs)
        self.fields["api_version"].help_text = f"Empty: {settings.SHOPIFY_API_VERSION}."
        for name in ("access_token", "webhook_secret"):
            self.fields[name].help_text = _kept_help(connection, name) or self.fields[name].help_text
        _require_unless_kept(self, connection, ("access_token",))
        self.fields["webhook_secret"].keeps_stored = bool(_kept_help(connection, "webhook_secret"))  # type: ignore[attr-defined]

    @staticmethod
    def initial_for(connection) -> dict:
        return {"shop_domain": connection.shop_domain, "api_version": connection.api_version}


class ProductSearchForm(forms.Form):
    q = forms.CharField(label="Title or SKU", required=False, max_length=100)
    status = forms.ChoiceField(label="Status", required=False, choices=[])
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", "Any"), *ProductStatus.choices]
