"""The onboarding wizard's pages: company details, one step per provider (Exotel, Shopify), done. They know
several apps (the connections are integrations'), so they sit in the composition, beside caly/urls.py."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts import forms, services
from accounts.models import OnboardingStep
from accounts.roles import Capability
from accounts.views import client_user_required, get_and_post
from caly import onboarding
from caly.foundation.errors import DomainError
from integrations.providers import PROVIDERS, Provider

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
    connections = onboarding.connections(client=client)
    steps = [
        {
            "step": step,
            "number": number,
            "label": step.label,
            "url": onboarding.step_url(step),
            "reached": onboarding.step_reached(client=client, step=step),
            "finished": onboarding.step_reached(client=client, step=step) and step != client.onboarding_step,
            "connected": is_connected.get(step),
            # Saved, but not accepted by the provider (yet): never shown as connected.
            "saved": connections.get(step) is not None and not is_connected.get(step),
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


def _connection_step(request: HttpRequest, provider: Provider) -> HttpResponse:
    step = OnboardingStep(provider.key)
    if (response := _not_reached(request, step)) is not None:
        return response
    client = request.user.client
    connection = provider.connection(client)
    form = provider.form(request.POST or None, connection=connection)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                saved = onboarding.onboarding_connection_save(
                    client=client, actor=request.user, provider=provider, **form.connection_fields()
                )
            except DomainError as error:
                form.add_service_error(error)
            else:
                connected, message = provider.saved_message(saved)
                if connected:
                    messages.success(request, f"{message} {provider.links_hint}")
                else:
                    messages.warning(request, message)
                return redirect(onboarding.step_url(step))
        status = 400
    index = onboarding.STEPS.index(step)
    previous, following = onboarding.STEPS[index - 1], onboarding.STEPS[index + 1]
    context = {
        "form": form,
        "connection": connection,
        "in_use": connection is not None and connection == provider.connection_in_use(client),
        "provider": provider,
        "links": provider.links(connection) if connection else {},
        "step_url": onboarding.step_url(step),
        "skip_url": reverse(f"onboarding:{step.value}-skip"),
        "back_url": onboarding.step_url(previous),
        "next_url": onboarding.step_url(following),
        "next_label": "Finish"
        if following == OnboardingStep.DONE
        else f"Continue to {onboarding.CONNECTION_STEPS[following].label}",
        "finished": onboarding.step_reached(client=client, step=following),
    }
    return _wizard_page(request, step, context, status=status)


def connection_step_view(key: str):
    """The wizard's page for the provider `key`: connect it, see what to paste into it, go on."""
    provider = PROVIDERS[key]

    @client_user_required(Capability.MANAGE_INTEGRATIONS)
    @get_and_post
    def view(request: HttpRequest) -> HttpResponse:
        return _connection_step(request, provider)

    view.__name__ = view.__qualname__ = f"onboarding_{key}"
    return view


onboarding_exotel = connection_step_view("exotel")
onboarding_shopify = connection_step_view("shopify")


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
    client = request.user.client
    left = onboarding.onboarding_left(client=client, user=request.user)
    connections = onboarding.connections(client=client)
    providers = [
        {"provider": provider, "connection": connections[step]}
        for step, provider in onboarding.CONNECTION_STEPS.items()
    ]
    return _wizard_page(request, OnboardingStep.DONE, {"left": left, "providers": providers})
