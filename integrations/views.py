"""The integrations page (admins and owners) and the products page (everyone in the client).

Thin views over integrations.services and the providers' services; every connection is looked up
within the signed-in user's client. Forms post to one URL per action and come back to the page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.roles import Capability
from accounts.views import client_user_required
from caly.foundation.errors import DomainError
from integrations import services
from integrations.forms import ExotelForm, ProductSearchForm, ShopifyForm
from integrations.models import ExotelConnection, ShopifyConnection, WebhookEvent

MANAGE = Capability.MANAGE_INTEGRATIONS
RECENT_EVENTS = 20
PRODUCTS_PER_PAGE = 50


def _exotel(request) -> ExotelConnection | None:
    return ExotelConnection.objects.for_client(request.user.client).first()


def _shopify(request) -> ShopifyConnection | None:
    return ShopifyConnection.objects.for_client(request.user.client).first()


def _exotel_initial(connection) -> dict:
    if connection is None:
        return {}
    return {
        "account_sid": connection.account_sid,
        "api_host": connection.api_host,
        "caller_ids": ", ".join(connection.caller_ids),
        "callback_username": connection.callback_username,
    }


def _shopify_initial(connection) -> dict:
    if connection is None:
        return {}
    return {"shop_domain": connection.shop_domain, "api_version": connection.api_version}


def _page(request, *, exotel_form=None, shopify_form=None, status: int = 200) -> HttpResponse:
    from integrations.exotel.services import exotel_callback_urls
    from integrations.shopify.services import shopify_webhook_url

    exotel, shopify = _exotel(request), _shopify(request)
    context = {
        "exotel": exotel,
        "shopify": shopify,
        "exotel_form": exotel_form or ExotelForm(initial=_exotel_initial(exotel), connection=exotel, prefix="exotel"),
        "shopify_form": shopify_form
        or ShopifyForm(initial=_shopify_initial(shopify), connection=shopify, prefix="shopify"),
        "callback_urls": exotel_callback_urls(connection=exotel) if exotel else None,
        "webhook_url": shopify_webhook_url(connection=shopify) if shopify else None,
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


def _save(request, form, save: Callable, *, form_name: str, name: str) -> HttpResponse:
    if form.is_valid():
        fields = {
            name: value for name, value in form.cleaned_data.items() if value != "" or name == "callback_username"
        }
        try:
            connection = save(client=request.user.client, actor=request.user, **fields)
        except DomainError as error:
            form.add_service_error(error)
        else:
            if connection.verified_at:
                messages.success(request, f"{name} is saved. {connection.check_message}")
            else:  # the provider could not be reached: saved, but it must not look connected
                messages.warning(request, f"{name} is saved but not verified. {connection.check_message}")
            return redirect("integrations:index")
    return _page(request, **{form_name: form}, status=400)


@client_user_required(MANAGE)
@require_POST
def exotel_save(request: HttpRequest) -> HttpResponse:
    form = ExotelForm(request.POST, connection=_exotel(request), prefix="exotel")
    return _save(request, form, services.exotel_connection_save, form_name="exotel_form", name="Exotel")


@client_user_required(MANAGE)
@require_POST
def shopify_save(request: HttpRequest) -> HttpResponse:
    form = ShopifyForm(request.POST, connection=_shopify(request), prefix="shopify")
    return _save(request, form, services.shopify_connection_save, form_name="shopify_form", name="Shopify")


def _with_connection(find: Callable, name: str):
    """POST actions on the client's connection of one provider; none connected → a message, not an error page."""

    def decorator(action):
        @client_user_required(MANAGE)
        @require_POST
        def view(request: HttpRequest) -> HttpResponse:
            connection = find(request)
            if connection is None:
                messages.error(request, f"{name} is not connected.")
            else:
                action(request, connection)
            return redirect("integrations:index")

        view.__name__ = action.__name__
        return view

    return decorator


def _report_check(request, name: str, result) -> None:
    if result.ok:
        messages.success(request, f"{name}: {result.message}")
    else:
        messages.error(request, f"{name}: {result.message}")


@_with_connection(_exotel, "Exotel")
def exotel_test(request, connection) -> None:
    from integrations.exotel.services import exotel_connection_check

    _report_check(request, "Exotel", exotel_connection_check(connection=connection))


@_with_connection(_exotel, "Exotel")
def exotel_rotate(request, connection) -> None:
    services.exotel_webhook_token_rotate(connection=connection, actor=request.user)
    messages.success(request, "New callback URLs are ready: paste them into Exotel. The old ones no longer work.")


@_with_connection(_exotel, "Exotel")
def exotel_disconnect(request, connection) -> None:
    services.connection_disconnect(connection=connection, actor=request.user)
    messages.success(request, "Exotel is disconnected. Calls and recordings already in Caly stay.")


@_with_connection(_shopify, "Shopify")
def shopify_test(request, connection) -> None:
    from integrations.shopify.services import shopify_connection_check

    _report_check(request, "Shopify", shopify_connection_check(connection=connection))


@_with_connection(_shopify, "Shopify")
def shopify_sync(request, connection) -> None:
    from integrations.shopify.services import shopify_sync_request

    if shopify_sync_request(connection=connection, actor=request.user):
        messages.success(request, "The product sync has started. Reload this page to see how it went.")
    else:
        messages.info(request, "A product sync is already running.")


@_with_connection(_shopify, "Shopify")
def shopify_disconnect(request, connection) -> None:
    services.connection_disconnect(connection=connection, actor=request.user)
    messages.success(request, "Shopify is disconnected. Products already synced stay.")


@client_user_required(Capability.READ)
@require_safe
def products(request: HttpRequest) -> HttpResponse:
    from integrations.shopify.selectors import product_list

    form = ProductSearchForm(request.GET)
    shopify = _shopify(request)
    context = {"form": form, "page": None, "connected": shopify is not None and shopify.uninstalled_at is None}
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
