"""The company's settings page (admins and owners): company details and time zone, the tag list, and how long
recordings are kept (owners). It knows accounts (the client) and recordings (tags), so it sits in the
composition. Every save goes through the service the API uses, so it is validated and audited the same way."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from accounts.forms import ServiceForm, country_choices
from accounts.models import Client
from accounts.roles import Capability, Role
from accounts.views import client_user_required
from caly.foundation.errors import DomainError, ErrorCode
from recordings import tags
from recordings.models import TAG_NAME_MAX_LENGTH, Tag, TagColour

# Wasabi's minimum storage duration: an object deleted sooner is billed as if kept this long.
WASABI_MINIMUM_DAYS = 90
RETENTION_DAYS_MAX = Client._meta.get_field("recording_retention_days").validators[1].limit_value


class CompanyDetailsForm(ServiceForm):
    name = forms.CharField(
        label="Company name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "organization"})
    )
    country = forms.ChoiceField(
        label="Country",
        choices=country_choices,
        help_text="Two letters (ISO 3166): phone numbers written without a country code are read as this country's.",
    )
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        help_text="Type to search, such as Kolkata or Europe/London. Pages show days and times in it.",
        widget=forms.TextInput(attrs={"list": "timezones", "autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_timezone(self) -> str:
        name = self.cleaned_data["timezone"].strip()
        if name not in zoneinfo.available_timezones():
            raise forms.ValidationError(f"“{name[:64]}” is not a time zone Caly knows; choose one from the list.")
        return name


class TagForm(ServiceForm):
    name = forms.CharField(
        label="Name",
        max_length=TAG_NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "refund"}),
    )
    colour = forms.ChoiceField(label="Colour", choices=TagColour.choices, initial=TagColour.GREY)


class RetentionForm(ServiceForm):
    recording_retention_days = forms.IntegerField(
        label="Keep recordings for (days)",
        required=False,
        min_value=1,
        max_value=RETENTION_DAYS_MAX,
        help_text="Empty keeps every recording. Older recordings are deleted every night and cannot be recovered.",
    )


def _company_form(client: Client, data=None) -> CompanyDetailsForm:
    initial = {"name": client.name, "country": client.country, "timezone": client.timezone}
    return CompanyDetailsForm(data, initial=initial, prefix="company")


def _tag_form(tag: Tag, data=None) -> TagForm:
    return TagForm(data, initial={"name": tag.name, "colour": tag.colour}, prefix=f"tag-{tag.public_id}")


def _page(request: HttpRequest, *, status: int = 200, **forms_given) -> HttpResponse:
    client = request.user.client
    usage = tags.tag_usage(client=client)
    bound_tag = forms_given.get("tag_form")
    rows = [
        {
            "tag": tag,
            "calls": usage.get(tag.pk, 0),
            "form": bound_tag
            if bound_tag is not None and bound_tag.prefix == f"tag-{tag.public_id}"
            else _tag_form(tag),
        }
        for tag in tags.tag_list(client=client)
    ]
    context = {
        "client": client,
        "company_form": forms_given.get("company_form") or _company_form(client),
        "new_tag_form": forms_given.get("new_tag_form") or TagForm(prefix="new-tag"),
        "tag_rows": rows,
        "tags_max": tags.TAGS_PER_CLIENT_MAX,
        "is_owner": request.user.role == Role.OWNER,
        "retention_form": forms_given.get("retention_form")
        or RetentionForm(initial={"recording_retention_days": client.recording_retention_days}, prefix="retention"),
        "wasabi_minimum_days": WASABI_MINIMUM_DAYS,
        "timezones": sorted(zoneinfo.available_timezones()),
        "team_phones": list(accounts_selectors.member_phone_list(client=client)),
    }
    return render(request, "settings/index.html", context, status=status)


def _saved(anchor: str) -> HttpResponse:
    return redirect(f"{reverse('settings:index')}#{anchor}")


@client_user_required(Capability.MANAGE_CLIENT)
@require_safe
def settings_index(request: HttpRequest) -> HttpResponse:
    return _page(request)


@client_user_required(Capability.MANAGE_CLIENT)
@require_POST
def settings_company(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    form = _company_form(client, request.POST)
    if form.is_valid():
        try:
            accounts_services.client_update(client=client, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, "Company details saved.")
            return _saved("company-settings")
    client.refresh_from_db()  # the service may have set fields before refusing
    return _page(request, status=400, company_form=form)


@client_user_required(Capability.MANAGE_CLIENT)
@require_POST
def settings_tag_create(request: HttpRequest) -> HttpResponse:
    form = TagForm(request.POST, prefix="new-tag")
    if form.is_valid():
        try:
            tag = tags.tag_create(client=request.user.client, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Tag “{tag.name}” added.")
            return _saved("tags-settings")
    return _page(request, status=400, new_tag_form=form)


def _tag(request: HttpRequest, public_id) -> Tag:
    return get_object_or_404(Tag.objects.for_client(request.user.client), public_id=public_id)


@client_user_required(Capability.MANAGE_CLIENT)
@require_POST
def settings_tag_update(request: HttpRequest, public_id) -> HttpResponse:
    tag = _tag(request, public_id)
    form = _tag_form(tag, request.POST)
    if form.is_valid():
        try:
            tag = tags.tag_update(tag=tag, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, f"Tag “{tag.name}” saved.")
            return _saved("tags-settings")
    return _page(request, status=400, tag_form=form)


@client_user_required(Capability.MANAGE_CLIENT)
@require_POST
def settings_tag_delete(request: HttpRequest, public_id) -> HttpResponse:
    tag = _tag(request, public_id)
    calls = tags.tag_delete(tag=tag, actor=request.user)
    taken_off = f" It was taken off {calls} call{'s' if calls != 1 else ''}." if calls else ""
    messages.success(request, f"Tag “{tag.name}” deleted.{taken_off}")
    return _saved("tags-settings")


@client_user_required(Capability.MANAGE_CLIENT)
@require_POST
def settings_retention(request: HttpRequest) -> HttpResponse:
    if request.user.role != Role.OWNER:
        raise PermissionDenied("Only an owner can change how long recordings are kept.")
    client = request.user.client
    form = RetentionForm(request.POST, prefix="retention")
    if form.is_valid():
        try:
            accounts_services.client_retention_set(
                client=client, actor=request.user, days=form.cleaned_data["recording_retention_days"]
            )
        except DomainError as error:
            if error.code == ErrorCode.PERMISSION_DENIED:
                raise PermissionDenied(error.message) from None
            form.add_service_error(error)
        else:
            days = client.recording_retention_days
            messages.success(
                request, f"Recordings are kept for {days} days." if days else "Recordings are kept until deleted."
            )
            return _saved("retention-settings")
    client.refresh_from_db()
    return _page(request, status=400, retention_form=form)
