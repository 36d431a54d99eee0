"""A call's Shopify customer and orders, for recordings' call detail, list rows and filters (settings.CALL_CONTEXT;
see recordings/call_context.py for the contract)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.db import connections, router
from django.db.models import Q

from accounts.models import Client
from integrations.models import (
    CallCustomer,
    CallMatch,
    ShopifyConnection,
    ShopifyCustomer,
    ShopifyOrder,
    ShopifyPhone,
)
from integrations.shopify import cards, linking, selectors
from integrations.shopify.search import CUSTOMER_ORDERING, customer_search, customers_with_phone
from recordings.models import Call

CALLS_PER_SEARCH = 1000  # calls a `q` finds through customers and orders: the newest of a page's worth, bounded
CUSTOMERS_PER_SEARCH = 200


def call_detail(call: Call) -> dict[str, Any]:
    """`customer` (or None), its latest `orders` (the call's own order first) and `customer_match`. On PostgreSQL
    one statement (the link, its customer, the store's domain and the orders, each on its index); two indexed
    queries elsewhere, with the same answer."""
    alias = router.db_for_read(CallCustomer)
    if connections[alias].vendor == "postgresql":
        link, orders, order_named = _detail_by_sql(alias, call)
    else:
        link, orders, order_named = _detail_by_orm(call)
    if link is None:
        return {"customer": None, "orders": [], "customer_match": CallMatch.NONE}
    customer = {name: link[f"customer__{name}"] for name in selectors.CUSTOMER_FIELDS}
    order_id = link["order_id"]
    named = [row for row in orders if row["id"] == order_id]
    if order_id and not named:  # an order outside the latest few, or of no customer
        named = order_named if order_named is not None else _order_named(order_id)
    orders = named + [row for row in orders if row["id"] != order_id][: selectors.ORDERS_SHOWN - len(named)]
    domain = link["shop_domain"] or ""
    return {
        "customer": selectors.customer_row(customer) if customer["id"] else None,
        "orders": [selectors.order_row(row, shop_domain=domain) for row in orders],
        "customer_match": link["match"],
    }


def _detail_by_orm(call: Call) -> tuple[dict[str, Any] | None, list[dict], None]:
    """The call's link (with its customer's fields and the store's domain) and the customer's latest orders; the
    order the link names is read only when needed (None)."""
    links = (
        CallCustomer.objects.filter(call_id=call.pk, client_id=call.client_id)
        .annotate(shop_domain=selectors.shop_domain_subquery())
        .values("match", "order_id", "shop_domain", *(f"customer__{name}" for name in selectors.CUSTOMER_FIELDS))
    )
    link = next(iter(links), None)
    if link is None or not link["customer__id"]:
        return link, [], None
    return link, selectors.orders_latest(client=call.client_id, customer_ids=[link["customer__id"]]), None


def _order_named(order_id: int) -> list[dict]:
    return list(ShopifyOrder.objects.filter(pk=order_id).values(*selectors.ORDER_FIELDS))


# The detail's statement: one row per order (the one the link names first, flagged 0, then the customer's latest,
# flagged 1), each carrying the link; one row with NULL orders when there are none.
_LINK_COLUMNS = ("match", "order_id", "shop_domain", *(f"customer__{name}" for name in selectors.CUSTOMER_FIELDS))


@functools.cache
def _detail_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    links, customers, orders, stores = (
        quote(model._meta.db_table) for model in (CallCustomer, ShopifyCustomer, ShopifyOrder, ShopifyConnection)
    )
    order_columns = ", ".join(f"o.{quote(name)}" for name in selectors.ORDER_FIELDS)
    customer_columns = ", ".join(f"c.{quote(name)}" for name in selectors.CUSTOMER_FIELDS)
    # Identifiers from the models' _meta; every value is a parameter.
    return (
        "SELECT l.match, l.order_id,"  # noqa: S608
        f" (SELECT s.shop_domain FROM {stores} s WHERE s.client_id = l.client_id LIMIT 1), {customer_columns},"
        f" o.* FROM {links} l LEFT JOIN {customers} c ON c.id = l.customer_id"
        f" LEFT JOIN LATERAL (SELECT 0 AS latest, {order_columns} FROM {orders} o WHERE o.id = l.order_id"
        f" UNION ALL (SELECT 1, {order_columns} FROM {orders} o"
        " WHERE o.customer_id = c.id AND o.client_id = l.client_id"
        f" ORDER BY o.processed_at DESC, o.id DESC LIMIT {selectors.ORDERS_SHOWN})) o ON TRUE"
        " WHERE l.call_id = %s AND l.client_id = %s ORDER BY o.latest, o.processed_at DESC, o.id DESC"
    )


def _detail_by_sql(alias: str, call: Call) -> tuple[dict[str, Any] | None, list[dict], list[dict]]:
    """What _detail_by_orm answers, and the order the link names (read along, in case it is not a latest one)."""
    with connections[alias].cursor() as cursor:
        cursor.execute(_detail_sql(alias), [call.pk, call.client_id])
        rows = cursor.fetchall()
    if not rows:
        return None, [], []
    width = len(_LINK_COLUMNS)
    link = dict(zip(_LINK_COLUMNS, rows[0][:width], strict=True))
    link["customer__tags"] = json.loads(link["customer__tags"]) if link["customer__id"] else None
    orders: tuple[list[dict], list[dict]] = ([], [])
    for row in rows:
        if row[width] is not None:  # None: no order at all
            orders[row[width]].append(dict(zip(selectors.ORDER_FIELDS, row[width + 1 :], strict=True)))
    named, latest = orders
    return link, latest, named


def call_rows(*, client: Client, call_ids: list[int]) -> dict[int, dict[str, Any]]:
    """{call id: {"customer": {"id", "name"}}} for the calls of a page that have a customer (the others have none):
    one query (a statement built once on PostgreSQL, where building it with the ORM cost more than running it)."""
    rows: dict[int, dict[str, Any]] = {}
    alias = router.db_for_read(CallCustomer)
    if connections[alias].vendor == "postgresql":
        with connections[alias].cursor() as cursor:
            cursor.execute(_rows_sql(alias), [client.pk, call_ids])
            linked: Iterable[tuple] = cursor.fetchall()
    else:
        linked = CallCustomer.objects.filter(client=client, call_id__in=call_ids, customer__isnull=False).values_list(
            "call_id", "customer__public_id", "customer__first_name", "customer__last_name", "customer__email"
        )
    for call_id, public_id, first_name, last_name, email in linked:
        name = f"{first_name} {last_name}".strip() or email
        rows[call_id] = {"customer": {"id": str(public_id), "name": name}}  # as JSON shows it, and cheaper to render
    return rows


@functools.cache
def _rows_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    links, customers = (quote(model._meta.db_table) for model in (CallCustomer, ShopifyCustomer))
    # Identifiers from the models' _meta; every value is a parameter.
    return (
        f"SELECT l.call_id, c.public_id::text, c.first_name, c.last_name, c.email FROM {links} l"  # noqa: S608
        f" JOIN {customers} c ON c.id = l.customer_id WHERE l.client_id = %s AND l.call_id = ANY(%s)"
    )


def call_filter(
    *, client: Client, customer: UUID | None = None, order: str | None = None, q: str | None = None
) -> Q | None:
    """Calls of `customer` (its public id), about `order` (#1042, 1042, CP-1042) and, for `q`, the extra arm:
    calls linked to the customers whose name or e-mail matches, or to the order `q` names."""
    condition = Q()
    links = CallCustomer.objects.filter(client=client)
    if customer is not None:
        customers = ShopifyCustomer.objects.filter(client=client, public_id=customer).values("id")
        condition &= Q(pk__in=links.filter(customer_id__in=customers).values("call_id"))
    if order:
        condition &= Q(pk__in=links.filter(order_id__in=_orders_named(client, order)).values("call_id"))
    if q:
        condition &= Q(pk__in=_calls_found(client, q))  # an arm of q's OR: the caller adds the others
    return condition or None


def _orders_named(client: Client, text: str) -> list[int]:
    """Ids of the client's orders `text` names: a bare number (1042), a name (#1042, CP-1042) or a reference as
    calls carry them (order-1042, or #1042 in a store whose prefix is CP-)."""
    text = text.strip()
    orders = ShopifyOrder.objects.filter(client=client)
    if text.isdigit():
        return list(orders.filter(number=int(text[:15])).values_list("id", flat=True)[:10])
    references = linking.order_references(text)
    if not references:
        return []
    first = references[0]  # on the (client, number) index; the name's prefix is checked here
    return [
        order_id
        for order_id, name in orders.filter(number=first.number).values_list("id", "name")[:10]
        if name.lower() == text.lower()
        or first.tag in linking.GENERIC_TAGS
        or linking.order_name_tag(name) == first.tag
    ]


def _calls_found(client: Client, q: str) -> list[int]:
    """Ids of the newest calls linked to the customers `q` finds (name, e-mail) or to the order it names: a
    bounded list, so the calls list combines it with its other arms on the primary key index."""
    order_ids = _orders_named(client, q) if any(ch.isdigit() for ch in q) else []
    customer_ids = list(
        customer_search(client=client, q=q).order_by().values_list("id", flat=True)[:CUSTOMERS_PER_SEARCH]
    )
    if not customer_ids and not order_ids:
        return []
    links = CallCustomer.objects.filter(client=client).filter(
        Q(customer_id__in=customer_ids) | Q(order_id__in=order_ids)
    )
    return list(links.order_by("-call_id").values_list("call_id", flat=True)[:CALLS_PER_SEARCH])


def call_card(*, call: Call) -> dict[str, Any]:
    """The call page's customer card: `state` (phone, order, ambiguous or none) with the customer and its latest
    orders (the order named on the call first), or the customers sharing the number, and the template to show it.
    A few single-table queries on their indexes: joins cost more to build than they save here.
    """
    client_id = call.client_id
    link = next(
        iter(
            CallCustomer.objects.filter(call_id=call.pk, client_id=client_id)
            .only("match", "phone", "customer_id", "order_id")
            .order_by()[:1]
        ),
        None,
    )
    store = cards.store_of(client_id)
    card: dict[str, Any] = {
        "template": "integrations/customers/_card.html",
        "state": link.match if link else CallMatch.NONE,
        "phone": link.phone if link else linking.customer_number(call.direction, call.from_number, call.to_number),
        "connected": store.connected,
        "customer": None,
        "order": None,
        "candidates": [],
    }
    if link is None:
        return card
    customer = (
        next(iter(ShopifyCustomer.objects.filter(pk=link.customer_id, client_id=client_id).order_by()[:1]), None)
        if link.customer_id
        else None
    )
    latest = cards.latest_orders(customer) if customer else []
    order = next((row for row in latest if row.pk == link.order_id), None)
    if link.order_id and order is None:
        order = next(iter(ShopifyOrder.objects.filter(pk=link.order_id, client_id=client_id).order_by()[:1]), None)
    if customer is not None:
        named = [order] if order is not None and order.customer_id == customer.pk else []
        orders = named + [row for row in latest if row.pk != link.order_id][: cards.ORDERS_SHOWN - len(named)]
        card["customer"] = cards.customer_summary(customer, domain=store.domain, orders=orders)
        card["state"] = CallMatch.ORDER if order is not None else CallMatch.PHONE
    if order is not None:
        card["order"] = cards.order_summary(order, domain=store.domain)
        card["order_list"] = [card["order"]]
        theirs = ShopifyPhone.objects.filter(client_id=client_id, phone=link.phone, customer_id=link.customer_id)
        card["phone_is_theirs"] = customer is not None and theirs.exists()
    if link.match == CallMatch.AMBIGUOUS and customer is None:
        card["candidates"] = [
            cards.customer_summary(candidate, domain=store.domain, orders=())
            for candidate in customers_with_phone(client=client_id, phone=link.phone).order_by(*CUSTOMER_ORDERING)[
                : selectors.CANDIDATES_SHOWN
            ]
        ]
    return card
