"""The Customers pages (Django sessions): the client's Shopify customers, searchable, and one customer with its
orders and calls.

Everyone in the client reads them (Capability.READ). Customers are looked up within the signed-in user's
client, so another client's customer answers 404. The list pages with the same keyset paginator as the calls
(newest first, `?cursor=`), so page 1 and page 20,000 cost the same; a bad cursor or limit is a 400 page.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_safe
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.request import Request

from accounts.roles import Capability
from accounts.views import client_user_required
from caly.foundation.api.pagination import KeysetPagination
from integrations.models import CallCustomer, CallMatch, ShopifyCustomer, ShopifyOrder
from integrations.shopify import cards
from integrations.shopify.search import CUSTOMER_ORDERING, customer_search, looks_like_phone, phone_query
from integrations.shopify.selectors import CUSTOMER_FIELDS
from recordings.models import CallStatus
from recordings.views import click_to_call

PAGING_PARAMS = ("cursor", "limit")
PAGING_LABELS = {"cursor": "Page link", "limit": "Rows per page"}
ORDERS_ON_PAGE = 20
CALLS_ON_PAGE = 20
LIST_FIELDS = (*CUSTOMER_FIELDS, "shopify_id")  # the API's columns, and the id the admin link needs
STATUS_LABELS = dict(CallStatus.choices)
MATCH_LABELS = {
    CallMatch.PHONE: "Their number",
    CallMatch.ORDER: "Order named on the call",
    CallMatch.AMBIGUOUS: "Shared number",
    CallMatch.NONE: "",
}


class CustomerSearchForm(forms.Form):
    q = forms.CharField(
        label="Name, e-mail, phone or order",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "placeholder": "Priya, +9198…, #1042"}),
    )


class CustomerList:
    """The keyset ordering the paginator reads from its view."""

    keyset_ordering = CUSTOMER_ORDERING


def _list_row(values: dict) -> dict:
    name = f"{values['first_name']} {values['last_name']}".strip()
    return {
        **values,
        "name": name or values["email"] or values["phone"] or f"Customer {values['shopify_id']}",
        "url": reverse("integrations:customer", args=[values["public_id"]]),
        "total_spent": cards.money(values["total_spent"], values["currency"]),
        "tags": list(values["tags"] or []),
    }


@client_user_required(Capability.READ)
@require_safe
def customers(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    filters = {key: value for key, value in request.GET.items() if value != "" and key != "cursor"}
    if any(value == "" for value in request.GET.values()):
        return redirect(f"{request.path}?{urlencode(filters)}" if filters else request.path)
    form = CustomerSearchForm({key: value for key, value in filters.items() if key not in PAGING_PARAMS})
    context: dict = {
        "form": form,
        "rows": None,
        "paging_errors": [],
        "limit": filters.get("limit"),
        "connected": cards.store_of(client).connected,
    }
    if not form.is_valid():
        return render(request, "integrations/customers/list.html", context, status=400)
    q = form.cleaned_data["q"].strip()
    if q and looks_like_phone(q) and phone_query(q, client=client) is None:
        form.add_error("q", f"{q} is not a phone number Caly can read (country {client.country}).")
        return render(request, "integrations/customers/list.html", context, status=400)

    paginator = KeysetPagination()
    try:
        page = paginator.paginate_queryset(
            customer_search(client=client, q=q).values(*LIST_FIELDS), Request(request), view=CustomerList
        )
    except ApiValidationError as error:
        context["paging_errors"] = [
            f"{PAGING_LABELS.get(name, name)}: {problem}"
            for name, problems in error.detail.items()
            for problem in problems
        ]
        return render(request, "integrations/customers/list.html", context, status=400)
    meta = paginator.get_pagination_meta()

    def page_url(cursor: str | None) -> str | None:
        return f"{request.path}?{urlencode({**filters, 'cursor': cursor})}" if cursor else None

    context.update(
        rows=[_list_row(values) for values in page],
        older_url=page_url(meta["next_cursor"]),
        newer_url=page_url(meta["previous_cursor"]),
        searched=bool(q),
    )
    return render(request, "integrations/customers/list.html", context)


def _call_row(link: CallCustomer) -> dict:
    call = link.call
    return {
        "url": reverse("recordings:call", args=[call.public_id]),
        "started_at": call.started_at,
        "direction": call.get_direction_display(),
        "number": link.phone or (call.from_number if call.direction == "inbound" else call.to_number),
        "status": call.status,
        "status_label": STATUS_LABELS.get(call.status, call.status),
        "match": MATCH_LABELS.get(link.match, ""),
        "order": link.order.name if link.order else "",
        "is_resolved": call.is_resolved,
    }


@client_user_required(Capability.READ)
@require_safe
def customer(request: HttpRequest, public_id) -> HttpResponse:
    client = request.user.client
    found = get_object_or_404(ShopifyCustomer.objects.for_client(client), public_id=public_id)
    domain = cards.store_of(client).domain
    orders = list(
        ShopifyOrder.objects.for_client(client).filter(customer=found).order_by("-processed_at", "-id")[:ORDERS_ON_PAGE]
    )
    links = (
        CallCustomer.objects.for_client(client)
        .filter(customer=found)
        .select_related("call", "order")
        .order_by("-call__started_at", "-call_id")[:CALLS_ON_PAGE]
    )
    context = {
        "customer": cards.customer_summary(found, domain=domain, orders=orders),
        "calls": [_call_row(link) for link in links],
        "more_orders": max(0, found.orders_count - len(orders)),
        "calls_url": f"{reverse('recordings:calls')}?{urlencode({'customer': str(found.public_id)})}",
        "click_to_call": click_to_call(request),
    }
    return render(request, "integrations/customers/detail.html", context)
