"""The webhook endpoints section of the Developers page (admins and owners) and the forms it posts.

`developer_section(request)` is the section's context; `templates/integrations/outbound/_section.html`
renders it. Each action posts to its own URL under /developers/webhooks/ and comes back to the page; a
secret (a new endpoint's, a rotated one, or one asked for) is shown once, in the answer to that POST.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.forms import ServiceForm
from accounts.roles import Capability
from accounts.views import client_user_required
from caly.foundation.errors import DomainError
from integrations.outbound import selectors, services
from integrations.outbound.models import (
    EVENT_TYPES,
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    OutboundDelivery,
    WebhookEndpoint,
)

MANAGE = Capability.MANAGE_DEVELOPERS
PAGE_TEMPLATE = "integrations/outbound/page.html"


class EndpointForm(ServiceForm):
    url = forms.CharField(
        label="URL",
        max_length=MAX_URL_LENGTH,
        help_text="https:// at a public address, such as https://example.com/webhooks/caly.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/caly", "spellcheck": "false"}),
    )
    description = forms.CharField(label="Description", max_length=MAX_DESCRIPTION_LENGTH, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=[(name, f"{name}: {text}") for name, text in EVENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple,
    )


def _section(request: HttpRequest, *, form: EndpointForm | None = None, secret: dict | None = None) -> dict:
    client = request.user.client
    return {
        "webhook_endpoints": list(selectors.endpoint_list(client=client)),
        "webhook_deliveries": selectors.deliveries_recent(client=client),
        "webhook_form": form or EndpointForm(prefix="endpoint", initial={"event_types": list(EVENT_TYPES)}),
        "webhook_secret": secret,
        "webhook_timeout_seconds": f"{settings.OUTBOUND_WEBHOOK_TIMEOUT_SECONDS:g}",
    }


def developer_section(request: HttpRequest) -> dict:
    """The context of the webhook endpoints section: endpoints, recent deliveries and the new endpoint form."""
    return _section(request)


def _render(request: HttpRequest, *, status: int = 200, **kwargs) -> HttpResponse:
    response = render(request, PAGE_TEMPLATE, _section(request, **kwargs), status=status)
    response["Cache-Control"] = "no-store"  # it may show a secret
    return response


def _endpoint(request: HttpRequest, public_id) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.for_client(request.user.client).filter(public_id=public_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _back() -> HttpResponse:
    return redirect("integrations:webhooks")


@client_user_required(MANAGE)
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    return _render(request)


@client_user_required(MANAGE)
@require_POST
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST, prefix="endpoint")
    if form.is_valid():
        try:
            endpoint = services.endpoint_create(client=request.user.client, actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_service_error(error)
        else:
            secret = {"endpoint": endpoint, "secret": endpoint.secret, "why": "created"}
            return _render(request, status=201, secret=secret)
    return _render(request, status=400, form=form)


@client_user_required(MANAGE)
@require_POST
def endpoint_secret(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = _endpoint(request, public_id)
    secret = services.endpoint_secret_reveal(endpoint=endpoint, actor=request.user)
    return _render(request, secret={"endpoint": endpoint, "secret": secret, "why": "shown"})


@client_user_required(MANAGE)
@require_POST
def endpoint_rotate(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = services.endpoint_secret_rotate(endpoint=_endpoint(request, public_id), actor=request.user)
    return _render(request, secret={"endpoint": endpoint, "secret": endpoint.secret, "why": "rotated"})


@client_user_required(MANAGE)
@require_POST
def endpoint_enable(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = services.endpoint_update(endpoint=_endpoint(request, public_id), actor=request.user, enabled=True)
    messages.success(request, f"Webhooks go to {endpoint.url} again.")
    return _back()


@client_user_required(MANAGE)
@require_POST
def endpoint_disable(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = services.endpoint_update(endpoint=_endpoint(request, public_id), actor=request.user, enabled=False)
    messages.success(request, f"Webhooks to {endpoint.url} are stopped; pending deliveries are cancelled.")
    return _back()


@client_user_required(MANAGE)
@require_POST
def endpoint_delete(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = _endpoint(request, public_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the box to confirm that the endpoint and its delivery log are to be deleted.")
        return _back()
    services.endpoint_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, f"The endpoint {endpoint.url} is deleted.")
    return _back()


@client_user_required(MANAGE)
@require_POST
def endpoint_test(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = _endpoint(request, public_id)
    services.endpoint_test_send(endpoint=endpoint, actor=request.user)
    messages.success(request, f"A test event is on its way to {endpoint.url}; its outcome shows below.")
    return _back()


@client_user_required(MANAGE)
@require_POST
def delivery_redeliver(request: HttpRequest, public_id) -> HttpResponse:
    delivery = (
        OutboundDelivery.objects.for_client(request.user.client)
        .select_related("event", "endpoint")
        .filter(public_id=public_id)
        .first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    services.delivery_redeliver(delivery=delivery, actor=request.user)
    messages.success(request, f"{delivery.event.type} is being sent to {delivery.endpoint.url} again.")
    return _back()
