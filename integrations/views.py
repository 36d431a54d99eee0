"""The integrations page (admins and owners) and the products page (everyone in the client).

Thin views over the providers' descriptions (integrations.providers) and services; every connection is
looked up within the signed-in user's client. Forms post to one URL per action and provider, and come
back to the page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from accounts.roles import Capability
from accounts.views import client_user_required, get_and_post
from caly.foundation.errors import DomainError
from integrations import services
from integrations.credentials import CheckResult
from integrations.exotel.credentials import exotel_webhook_token_rotate
from integrations.forms import ConnectionForm, ProductSearchForm
from integrations.models import Connection, ConnectionState, WebhookEvent
from integrations.providers import PROVIDERS, SHOPIFY, Provider
from integrations.shopify.selectors import product_list
from integrations.shopify.services import shopify_customers_sync_request, shopify_sync_request

MANAGE = Capability.MANAGE_INTEGRATIONS
RECENT_EVENTS = 20
PRODUCTS_PER_PAGE = 50


def _card(request, provider: Provider, form: ConnectionForm | None) -> dict:
    """One provider's part of the page; its own details come from integrations/_<key>.html. A disconnected
    connection (Exotel keeps its row) shows its callback URLs and the form to connect again."""
    connection = provider.connection(request.user.client)
    return {
        "provider": provider,
        "connection": connection,
        "in_use": connection is not None and connection.state != ConnectionState.DISCONNECTED,
        "form": form or provider.form(connection=connection),
        "links": provider.links(connection) if connection else {},
        "details": f"integrations/_{provider.key}.html",
        "save_url": reverse(f"integrations:{provider.key}-save"),
        "disconnect_url": reverse(f"integrations:{provider.key}-disconnect"),
    }


def _page(request, *, forms: dict[str, ConnectionForm] | None = None, status: int = 200) -> HttpResponse:
    forms = forms or {}
    context = {
        "cards": [_card(request, provider, forms.get(key)) for key, provider in PROVIDERS.items()],
        "events": WebhookEvent.objects.for_client(request.user.client)
        .order_by("-received_at", "-id")
        .only("public_id", "provider", "topic", "status", "attempts", "last_error", "received_at", "processed_at")[
            :RECENT_EVENTS
        ],
    }
    return render(request, "integrations/index.html", context, status=status)


@client_user_required(MANAGE)
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    return _page(request)


@client_user_required(MANAGE)
@require_POST
def connection_save(request: HttpRequest, provider: str) -> HttpResponse:
    described = PROVIDERS[provider]
    form = described.form(request.POST, connection=described.connection(request.user.client))
    if form.is_valid():
        try:
            connection = described.save(client=request.user.client, actor=request.user, **form.connection_fields())
        except DomainError as error:
            form.add_service_error(error)
        else:
            _report_save(request, described, connection)
            return redirect("integrations:index")
    return _page(request, forms={provider: form}, status=400)


def _report_save(request, provider: Provider, connection: Connection) -> None:
    connected, message = provider.saved_message(connection)
    (messages.success if connected else messages.warning)(request, message)


def _with_connection(action):
    """POST actions on the client's connection of one provider; none connected → a message, not an error page."""

    @client_user_required(MANAGE)
    @require_POST
    def view(request: HttpRequest, provider: str) -> HttpResponse:
        described = PROVIDERS[provider]
        connection = described.connection_in_use(request.user.client)
        if connection is None:
            messages.error(request, f"{described.label} is not connected.")
        else:
            action(request, described, connection)
        return redirect("integrations:index")

    view.__name__ = action.__name__
    return view


def _report_check(request, name: str, result: CheckResult) -> None:
    if result.ok:
        messages.success(request, f"{name}: {result.message}")
    else:
        messages.error(request, f"{name}: {result.message}")


@_with_connection
def connection_test(request, provider: Provider, connection: Connection) -> None:
    _report_check(request, provider.label, provider.check(connection=connection))


def _confirmed(confirm: str, page):
    """An action that asks first: GET shows what it will do (`page(provider, connection)` gives the
    confirmation page's context); a POST acts only with confirm=`confirm`, else it asks again (400)."""

    def decorator(action):
        @client_user_required(MANAGE)
        @get_and_post
        def view(request: HttpRequest, provider: str) -> HttpResponse:
            described = PROVIDERS[provider]
            connection = described.connection_in_use(request.user.client)
            if connection is None:
                messages.error(request, f"{described.label} is not connected.")
                return redirect("integrations:index")
            if request.method == "POST" and request.POST.get("confirm") == confirm:
                action(request, described, connection)
                return redirect("integrations:index")
            context = {"provider": described, "confirm": confirm, **page(described, connection)}
            return render(
                request, "integrations/confirm.html", context, status=400 if request.method == "POST" else 200
            )

        view.__name__ = action.__name__
        return view

    return decorator


def _disconnect_page(provider: Provider, connection: Connection) -> dict:
    return {
        "title": f"Disconnect {provider.label}?",
        "stops": provider.disconnect_stops,
        "keeps": provider.disconnect_keeps,
        "button": f"Disconnect {provider.label}",
    }


def _rotate_page(provider: Provider, connection: Connection) -> dict:
    return {
        "title": "Make new callback URLs?",
        "stops": (
            "The current callback URLs stop working at once: Caly refuses Exotel's callbacks to them.",
            "Until the new URLs are pasted into Exotel (the StatusCallback of your flows and every Passthru "
            "applet), new calls are not received and their recordings are not fetched.",
        ),
        "keeps": "Do this only if the URLs leaked. The credentials, calls and recordings stay as they are.",
        "button": "Make new callback URLs",
    }


@_confirmed("disconnect", _disconnect_page)
def connection_disconnect(request, provider: Provider, connection: Connection) -> None:
    services.connection_disconnect(connection=connection, actor=request.user)
    messages.success(request, provider.disconnected_message)


@_confirmed("rotate", _rotate_page)
def exotel_rotate(request, provider: Provider, connection) -> None:
    exotel_webhook_token_rotate(connection=connection, actor=request.user)
    messages.success(request, "New callback URLs are ready: paste them into Exotel. The old ones no longer work.")


@_with_connection
def shopify_sync(request, provider: Provider, connection) -> None:
    if shopify_sync_request(connection=connection, actor=request.user):
        messages.success(request, "The product sync has started. Reload this page to see how it went.")
    else:
        messages.info(request, "A product sync is already running.")
    if shopify_customers_sync_request(connection=connection, actor=request.user):
        messages.success(request, "The customers and orders sync has started.")
    else:
        messages.info(request, "A customers and orders sync is already running.")


@client_user_required(Capability.READ)
@require_safe
def products(request: HttpRequest) -> HttpResponse:
    form = ProductSearchForm(request.GET)
    context = {"form": form, "page": None, "connected": SHOPIFY.is_connected(request.user.client)}
    if not form.is_valid():
        return render(request, "integrations/products.html", context, status=400)
    query = form.cleaned_data
    paginator = Paginator(
        product_list(client=request.user.client, q=query["q"], status=query["status"]), PRODUCTS_PER_PAGE
    )
    number = query["page"] or 1
    if number > max(paginator.num_pages, 1):
        form.add_error(None, f"There are only {paginator.num_pages} page(s) of products.")
        return render(request, "integrations/products.html", context, status=400)
    page = paginator.page(number)
    filters = {name: value for name, value in request.GET.items() if name != "page" and value}
    context.update(page=page, filters=filters, searched=bool(query["q"] or query["status"]))
    return render(request, "integrations/products.html", context)
