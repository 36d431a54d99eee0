"""A call's Shopify customer and orders, for recordings' call detail, list rows and filters (settings.CALL_CONTEXT;
see recordings/call_context.py for the contract)."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any, TypeVar
from uuid import UUID

from django.db import connections, router
from django.db.models import Expression, F, Field, Model, Q

from accounts.models import Client
from integrations.models import (
    CallCustomer,
    CallMatch,
    ConnectionState,
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
M = TypeVar("M", bound=Model)


def call_detail(call: Call) -> dict[str, Any]:
    """`customer` (or None), its latest `orders` (the call's own order first) and `customer_match`: what the call's
    card shows (`call_card`), read the same way."""
    linked = _linked(call, card=False)
    link = linked.link
    if link is None:
        return {"customer": None, "orders": [], "customer_match": CallMatch.NONE}
    domain = linked.store.domain
    return {
        "customer": selectors.customer_row(linked.customer) if linked.customer else None,
        "orders": [selectors.order_row(row, shop_domain=domain) for row in linked.orders(selectors.ORDERS_SHOWN)],
        "customer_match": link["match"],
    }


def call_card(*, call: Call) -> dict[str, Any]:
    """The call page's customer card: `state` (phone, order, ambiguous or none) with the customer and its latest
    orders (the order named on the call first), or the customers sharing the number, and the template to show it.
    Read as the call's detail is (`_linked`: one statement on PostgreSQL); the customers sharing a number, shown
    only when the call's is, are one query more."""
    linked = _linked(call, card=True)
    link = linked.link
    card: dict[str, Any] = {
        "template": "integrations/customers/_card.html",
        "state": link["match"] if link else CallMatch.NONE,
        "phone": link["phone"] if link else linking.customer_number(call.direction, call.from_number, call.to_number),
        "connected": linked.store.connected,
        "customer": None,
        "order": None,
        "candidates": [],
    }
    if link is None:
        return card
    domain = linked.store.domain
    customer = _instance(ShopifyCustomer, linked.customer) if linked.customer else None
    order = _instance(ShopifyOrder, linked.named) if linked.named else None
    if customer is not None:
        theirs = order is not None and order.customer_id == customer.pk
        shown = linked.orders(cards.ORDERS_SHOWN) if theirs else linked.latest_without_named(cards.ORDERS_SHOWN)
        orders = [_instance(ShopifyOrder, row) for row in shown]
        card["customer"] = cards.customer_summary(customer, domain=domain, orders=orders)
        card["state"] = CallMatch.ORDER if order is not None else CallMatch.PHONE
    if order is not None:
        card["order"] = cards.order_summary(order, domain=domain)
        card["order_list"] = [card["order"]]
        card["phone_is_theirs"] = customer is not None and linked.phone_is_theirs
    if link["match"] == CallMatch.AMBIGUOUS and customer is None:
        card["candidates"] = [
            cards.customer_summary(candidate, domain=domain, orders=())
            for candidate in customers_with_phone(client=call.client_id, phone=link["phone"]).order_by(
                *CUSTOMER_ORDERING
            )[: selectors.CANDIDATES_SHOWN]
        ]
    return card


# --- what a call's detail and card read ------------------------------------------------------------

# The customer's columns both read: what the API shows, and the id its Shopify admin link needs.
_CUSTOMER_COLUMNS = (*selectors.CUSTOMER_FIELDS, "shopify_id")
_LINK_COLUMNS = ("match", "order_id", "phone")
_STORE_COLUMNS = ("shop_domain", "verified_at", "uninstalled_at")


@dataclasses.dataclass(frozen=True)
class _Linked:
    """A call's link (None: not linked), its customer (`_CUSTOMER_COLUMNS`; None: none), the client's store, the
    customer's latest orders (`ORDER_FIELDS` rows, newest first), the order the link names (None: none) and, for a
    link naming an order, whether the call's number is one of the customer's own."""

    link: dict[str, Any] | None
    customer: dict[str, Any] | None
    store: cards.Store
    latest: list[dict[str, Any]]
    named: dict[str, Any] | None
    phone_is_theirs: bool

    def latest_without_named(self, limit: int) -> list[dict[str, Any]]:
        named_id = self.named["id"] if self.named else None
        return [row for row in self.latest if row["id"] != named_id][:limit]

    def orders(self, limit: int) -> list[dict[str, Any]]:
        """The named order first, then the latest others: `limit` in all."""
        named = [self.named] if self.named else []
        return named + self.latest_without_named(limit - len(named))


def _linked(call: Call, *, card: bool) -> _Linked:
    """What the call's detail (and with `card`, its card) shows. On PostgreSQL one statement (the link, its customer,
    the store, the orders and the number's owner, each on its index); a few indexed queries elsewhere, with the
    same answer (tests/test_call_context_perf_paths.py holds the two equal)."""
    alias = router.db_for_read(CallCustomer)
    if connections[alias].vendor == "postgresql":
        return _linked_by_sql(alias, call)
    return _linked_by_orm(call, card=card)


def _store(values: dict[str, Any] | None) -> cards.Store:
    """cards.store_of's answer from the connection's columns (None: no connection)."""
    if values is None:
        return cards.Store()
    connection = _instance(ShopifyConnection, values)
    return cards.Store(domain=connection.shop_domain, connected=connection.state != ConnectionState.UNINSTALLED)


def _instance(model: type[M], values: dict[str, Any]) -> M:
    """A model instance from columns read by hand, as a queryset's .only() makes it (the others deferred)."""
    names = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(None, names, [values[name] for name in names])


def _linked_by_orm(call: Call, *, card: bool) -> _Linked:
    client_id = call.client_id
    store = _store(ShopifyConnection.objects.for_client(client_id).order_by().values(*_STORE_COLUMNS).first())
    columns = (*_LINK_COLUMNS, "customer__client_id", *(f"customer__{name}" for name in _CUSTOMER_COLUMNS))
    found = CallCustomer.objects.filter(call_id=call.pk, client_id=client_id).order_by().values(*columns)[:1]
    row = next(iter(found), None)
    if row is None:
        return _Linked(None, None, store, [], None, False)
    link = {name: row[name] for name in _LINK_COLUMNS}
    customer = (
        {name: row[f"customer__{name}"] for name in _CUSTOMER_COLUMNS}
        if row["customer__id"] and row["customer__client_id"] == client_id
        else None
    )
    latest = selectors.orders_latest(client=client_id, customer_ids=[customer["id"]]) if customer else []
    named = None
    if link["order_id"]:
        named = next((order for order in latest if order["id"] == link["order_id"]), None)
        if named is None:
            orders = ShopifyOrder.objects.filter(pk=link["order_id"], client_id=client_id).order_by()
            named = orders.values(*selectors.ORDER_FIELDS).first()
    phone_is_theirs = bool(
        card
        and named
        and customer
        and ShopifyPhone.objects.for_client(client_id).filter(phone=link["phone"], customer_id=customer["id"]).exists()
    )
    return _Linked(link, customer, store, latest, named, phone_is_theirs)


@functools.cache
def _linked_sql(alias: str) -> str:
    """One row per order (the one the link names first, flagged 0, then the customer's latest, flagged 1), each
    carrying the link, the store, the customer and whether the call's number is the customer's; a row with NULL
    orders when there are none, and with a NULL link when the call is not linked."""
    quote = connections[alias].ops.quote_name
    links, customers, orders, stores, phones = (
        quote(model._meta.db_table)
        for model in (CallCustomer, ShopifyCustomer, ShopifyOrder, ShopifyConnection, ShopifyPhone)
    )
    order_columns = ", ".join(f"o.{quote(name)}" for name in selectors.ORDER_FIELDS)
    store_columns = ", ".join(f"s.{quote(name)}" for name in _STORE_COLUMNS)
    customer_columns = ", ".join(f"c.{quote(name)}" for name in _CUSTOMER_COLUMNS)
    # Identifiers from the models' _meta; every value is a parameter.
    return (
        f"SELECT l.match, l.order_id, l.phone, s.found, {store_columns},"  # noqa: S608
        f" CASE WHEN l.order_id IS NOT NULL AND c.id IS NOT NULL THEN EXISTS (SELECT 1 FROM {phones} p"
        " WHERE p.client_id = k.client_id AND p.phone = l.phone AND p.customer_id = c.id) ELSE FALSE END,"
        f" {customer_columns}, o.*"
        " FROM (SELECT %s::bigint AS call_id, %s::bigint AS client_id) k"
        f" LEFT JOIN LATERAL (SELECT TRUE AS found, {store_columns} FROM {stores} s"
        " WHERE s.client_id = k.client_id LIMIT 1) s ON TRUE"
        f" LEFT JOIN {links} l ON l.call_id = k.call_id AND l.client_id = k.client_id"
        f" LEFT JOIN {customers} c ON c.id = l.customer_id AND c.client_id = k.client_id"
        f" LEFT JOIN LATERAL (SELECT 0 AS latest, {order_columns} FROM {orders} o"
        " WHERE o.id = l.order_id AND o.client_id = k.client_id"
        f" UNION ALL (SELECT 1, {order_columns} FROM {orders} o"
        " WHERE o.customer_id = c.id AND o.client_id = k.client_id"
        f" ORDER BY o.processed_at DESC, o.id DESC LIMIT {selectors.ORDERS_SHOWN})) o ON TRUE"
        " ORDER BY o.latest, o.processed_at DESC, o.id DESC"
    )


def _linked_by_sql(alias: str, call: Call) -> _Linked:
    with connections[alias].cursor() as cursor:
        cursor.execute(_linked_sql(alias), [call.pk, call.client_id])
        rows = cursor.fetchall()
    first = rows[0]  # the statement always answers a row
    width = len(_LINK_COLUMNS)
    link = dict(zip(_LINK_COLUMNS, first[:width], strict=True))
    found, *store = first[width : width + 1 + len(_STORE_COLUMNS)]
    store_of = _store(dict(zip(_STORE_COLUMNS, store, strict=True)) if found else None)
    if link["match"] is None:  # the call is not linked
        return _Linked(None, None, store_of, [], None, False)
    start = width + 1 + len(_STORE_COLUMNS)
    phone_is_theirs = first[start]
    start += 1
    customer = dict(zip(_CUSTOMER_COLUMNS, first[start : start + len(_CUSTOMER_COLUMNS)], strict=True))
    if customer["id"] is None:
        customer = None
    else:
        customer["tags"] = json.loads(customer["tags"])
    start += len(_CUSTOMER_COLUMNS)
    named, latest = None, []
    for row in rows:
        if row[start] is None:  # no order at all
            continue
        order = dict(zip(selectors.ORDER_FIELDS, row[start + 1 :], strict=True))
        if row[start] == 0:
            named = order
        else:
            latest.append(order)
    return _Linked(link, customer, store_of, latest, named, phone_is_theirs)


def call_columns() -> dict[str, Expression]:
    """The list's `customer` column, read in the list's own statement: {"id", "name"} of each call's customer, or
    None (see CallCustomerColumn)."""
    return {"customer": CallCustomerColumn()}


def call_rows(*, client: Client, call_ids: list[int]) -> dict[int, dict[str, Any]]:
    """{call id: {"customer": {"id", "name"}}} for the calls that have a customer (the others have none): the list's
    column for calls read on their own, in one query."""
    calls = Call.objects.for_client(client).filter(pk__in=call_ids).order_by()
    return {call_id: {"customer": customer} for call_id, customer in calls.values_list("pk", *call_columns().values())}


class CallCustomerColumn(Expression):
    """A call's customer as the calls list shows it ({"id": public id, "name": first and last name, else the e-mail},
    or None), read in the list's own statement: a subquery on the link's unique call id and the customer's primary
    key, evaluated for the rows of the page only. Written by hand and once, because building it with the ORM cost
    more than running it (bench/README.md)."""

    def __init__(self, call: Any = None, client: Any = None) -> None:
        super().__init__(output_field=Field())
        self.call = F("pk") if call is None else call
        self.client = F("client_id") if client is None else client

    def get_source_expressions(self) -> list[Any]:
        return [self.call, self.client]

    def set_source_expressions(self, exprs: list[Any]) -> None:
        self.call, self.client = exprs

    def as_sql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple]:
        call_sql, call_params = compiler.compile(self.call)
        client_sql, client_params = compiler.compile(self.client)
        sql = _customer_column_sql(connection.alias).format(call=call_sql, client=client_sql)
        return sql, (*call_params, *client_params)

    def convert_value(self, value: Any, expression: Any, connection: Any) -> dict[str, str] | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite's json_array; PostgreSQL's ARRAY arrives as a list
            value = json.loads(value)
        public_id, first_name, last_name, email = value
        return {
            "id": public_id if len(public_id) == 36 else str(UUID(public_id)),  # SQLite keeps 32 hex digits
            "name": f"{first_name} {last_name}".strip() or email,
        }


@functools.cache
def _customer_column_sql(alias: str) -> str:
    """The column's subquery, with {call} and {client} for the outer row's columns."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    links, customers = (quote(model._meta.db_table) for model in (CallCustomer, ShopifyCustomer))
    if connection.vendor == "postgresql":
        row = "ARRAY[c.public_id::text, c.first_name, c.last_name, c.email]"
    else:
        row = "json_array(c.public_id, c.first_name, c.last_name, c.email)"
    # Identifiers from the models' _meta; the outer columns come compiled from the query.
    return (
        f"(SELECT {row} FROM {links} l JOIN {customers} c ON c.id = l.customer_id"  # noqa: S608
        " WHERE l.call_id = {call} AND l.client_id = {client})"
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
