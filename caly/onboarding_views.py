"""The onboarding wizard's pages: company details, Exotel, Shopify, done. They know several apps (the
connections are integrations'), so they sit in the composition, beside caly/urls.py."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts import forms, services
from accounts.models import OnboardingStep
from accounts.roles import Capability
from accounts.views import client_user_required, get_and_post
from caly import onboarding
from caly.foundation.errors import DomainError

ONBOARDING_SEEN_SESSION_KEY = "accounts.onboarding_seen"


def onboarding_redirect(request: HttpRequest) -> HttpResponse | None:
    """Send someone who sets the client up to the wizard once per sign-in; after that, the dashboard's card."""
    if request.session.get(ONBOARDING_SEEN_SESSION_KEY) or not onboarding.wizard_due(user=request.user):
        return None
    request.session[ONBOARDING_SEEN_SESSION_KEY] = True
    return redirect(onboarding.step_url(request.user.client.onboarding_step))


def _wizard_page(request, page: OnboardingStep, context: dict, *, status: int = 200) -> HttpResponse:
    client = request.user.client
    request.session[ONBOARDING_SEEN_SESSION_KEY] = True  # left now, the wizard is not forced on them again
    is_connected = onboarding.connected(client=client)
    steps = [
        {
            "step": step,
            "number": number,
            "label": step.label,
            "url": onboarding.step_url(step),
            "reached": onboarding.step_reached(client=client, step=step),
            "finished": onboarding.step_reached(client=client, step=step) and step != client.onboarding_step,
            "connected": is_connected.get(step),
            "current": step == page,
        }
        for number, step in enumerate(onboarding.WIZARD_STEPS, start=1)
    ]
    context = {**context, "steps": steps, "client": client}
    return render(request, f"onboarding/{page.value}.html", context, status=status)


def _not_reached(request, step: str) -> HttpResponse | None:
    """A step ahead of the wizard's progress sends the user back to where it stands."""
    client = request.user.client
    if onboarding.step_reached(client=client, step=step):
        return None
    messages.info(request, f"First: {OnboardingStep(client.onboarding_step).label.lower()}.")
    return redirect(onboarding.step_url(client.onboarding_step))


def _connection_fields(form) -> dict:
    # An empty secret keeps the stored one (the services' rule); an empty callback user name clears it.
    return {name: value for name, value in form.cleaned_data.items() if value != "" or name == "callback_username"}


@client_user_required(Capability.MANAGE_CLIENT)
@require_safe
def onboarding_start(request: HttpRequest) -> HttpResponse:
    return redirect(onboarding.step_url(request.user.client.onboarding_step))


@client_user_required(Capability.MANAGE_CLIENT)
@get_and_post
def onboarding_company(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    initial = {name: getattr(client, name) for name in services.CLIENT_SETTINGS_FIELDS}
    form = forms.CompanyForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            try:
                onboarding.onboarding_company_save(client=client, actor=request.user, **form.cleaned_data)
            except DomainError as error:
                form.add_service_error(error)
            else:
                messages.success(request, "Company details saved.")
                return redirect("onboarding:exotel")
        return _wizard_page(request, OnboardingStep.COMPANY, {"form": form}, status=400)
    return _wizard_page(request, OnboardingStep.COMPANY, {"form": form})


@client_user_required(Capability.MANAGE_INTEGRATIONS)
@get_and_post
def onboarding_exotel(request: HttpRequest) -> HttpResponse:
    from integrations.exotel.services import exotel_callback_urls
    from integrations.forms import ExotelForm
    from integrations.models import ExotelConnection

    if (response := _not_reached(request, OnboardingStep.EXOTEL)) is not None:
        return response
    client = request.user.client
    connection = ExotelConnection.objects.for_client(client).first()
    initial = {}
    if connection is not None:
        initial = {
            "account_sid": connection.account_sid,
            "api_host": connection.api_host,
            "caller_ids": ", ".join(connection.caller_ids),
            "callback_username": connection.callback_username,
        }
    form = ExotelForm(request.POST or None, initial=initial, connection=connection, prefix="exotel")
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = onboarding.onboarding_exotel_save(client=client, actor=request.user, **_connection_fields(form))
            except DomainError as error:
                form.add_service_error(error)
            else:
                if saved.verified_at:
                    messages.success(request, "Exotel is connected. Paste the callback URLs below into Exotel.")
                else:
                    messages.warning(request, "Exotel is saved but not verified yet: see below.")
                return redirect("onboarding:exotel")
        status = 400
    context = {
        "form": form,
        "connection": connection,
        "callback_urls": exotel_callback_urls(connection=connection) if connection else None,
    }
    return _wizard_page(request, OnboardingStep.EXOTEL, context, status=status)


@client_user_required(Capability.MANAGE_INTEGRATIONS)
@get_and_post
def onboarding_shopify(request: HttpRequest) -> HttpResponse:
    from integrations.forms import ShopifyForm
    from integrations.models import ShopifyConnection
    from integrations.shopify.services import shopify_webhook_url

    if (response := _not_reached(request, OnboardingStep.SHOPIFY)) is not None:
        return response
    client = request.user.client
    connection = ShopifyConnection.objects.for_client(client).first()
    initial = {"shop_domain": connection.shop_domain, "api_version": connection.api_version} if connection else {}
    form = ShopifyForm(request.POST or None, initial=initial, connection=connection, prefix="shopify")
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = onboarding.onboarding_shopify_save(
                    client=client, actor=request.user, **_connection_fields(form)
                )
            except DomainError as error:
                form.add_service_error(error)
            else:
                if saved.verified_at:
                    messages.success(request, "Shopify is connected. Add the webhook URL below in Shopify.")
                else:
                    messages.warning(request, "Shopify is saved but not verified yet: see below.")
                return redirect("onboarding:shopify")
        status = 400
    context = {
        "form": form,
        "connection": connection,
        "webhook_url": shopify_webhook_url(connection=connection) if connection else None,
    }
    return _wizard_page(request, OnboardingStep.SHOPIFY, context, status=status)


@client_user_required(Capability.MANAGE_INTEGRATIONS)
@require_POST
def onboarding_skip(request: HttpRequest, step: str) -> HttpResponse:
    if (response := _not_reached(request, step)) is not None:
        return response
    onboarding.onboarding_skip(client=request.user.client, actor=request.user, step=step)
    following = onboarding.STEPS[onboarding.STEPS.index(step) + 1]
    return redirect(onboarding.step_url(following))


@client_user_required(Capability.MANAGE_CLIENT)
@require_safe
def onboarding_done(request: HttpRequest) -> HttpResponse:
    if (response := _not_reached(request, OnboardingStep.DONE)) is not None:
        return response
    left = onboarding.onboarding_left(client=request.user.client, user=request.user)
    return _wizard_page(request, OnboardingStep.DONE, {"left": left})


@client_user_required(Capability.READ)
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    if (wizard := onboarding_redirect(request)) is not None:
        return wizard
    client = request.user.client
    context = {
        "onboarding_left": onboarding.onboarding_left(client=client, user=request.user),
        "onboarding_unfinished": onboarding.wizard_due(user=request.user),
    }
    return render(request, "recordings/dashboard.html", context)
