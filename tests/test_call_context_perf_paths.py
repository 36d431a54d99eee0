"""The fast paths of a call's Shopify context: the call page's card and the API's detail read in one statement on
PostgreSQL (held equal here to the ORM queries SQLite runs), and the calls list's customer column read in the list's
own statement (no second query, the same rows as before, on both databases)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from accounts import jwt
from integrations.models import CallCustomer, CallMatch, PhoneSource, ShopifyCustomer, ShopifyOrder, ShopifyPhone
from integrations.shopify import call_context
from integrations.shopify.linking import call_link
from recordings.models import Call, CallStatus
from tests.factories import CallFactory, ShopifyConnectionFactory

pytestmark = pytest.mark.django_db

SINCE = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
PRIYA = "+919876500001"
SHARED = "+919876500009"


def customer_of(client, n: int, *, phone: str = "", **fields) -> ShopifyCustomer:
    values = {
        "shopify_id": 8_000 + n,
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "email": f"customer{n}@example.in",
        "phone": phone,
        "tags": ["vip", "cod"],
        "orders_count": 3,
        "total_spent": Decimal("4497.00"),
        "currency": "INR",
        "shopify_created_at": SINCE + timedelta(days=n),
        **fields,
    }
    customer = ShopifyCustomer.objects.create(client=client, **values)
    if phone:
        ShopifyPhone.objects.create(client=client, phone=phone, customer=customer, source=PhoneSource.CUSTOMER)
    return customer


def order_of(client, number: int, *, customer=None, days: int = 0, **fields) -> ShopifyOrder:
    values = {
        "shopify_id": 700_000 + number,
        "name": f"#{number}",
        "number": number,
        "processed_at": SINCE + timedelta(days=days),
        "financial_status": "paid",
        "fulfillment_status": "fulfilled",
        "total": Decimal("1499.00"),
        "currency": "INR",
        "item_count": 2,
        **fields,
    }
    return ShopifyOrder.objects.create(client=client, customer=customer, **values)


@pytest.fixture
def calls(client_a, client_b):
    """Client A's calls in every state a card can show, with a store; client B's customer shares a number."""
    ShopifyConnectionFactory(client=client_a, shop_domain="acme-apparel.myshopify.com")
    priya = customer_of(client_a, 1, phone=PRIYA)
    for n in range(8):  # more than the card shows; 1000 is the oldest
        order_of(client_a, 1000 + n, customer=priya, days=n, fulfillment_status="" if n % 3 else "fulfilled")
    customer_of(client_a, 2, phone=SHARED)
    customer_of(client_a, 3, phone=SHARED, first_name="", last_name="")
    guest = order_of(client_a, 2000, days=30, financial_status="pending")  # an order with no customer
    customer_of(client_b, 9, phone="+919811100000")
    made = {
        "phone": CallFactory(client=client_a, from_number=PRIYA),
        "outbound": CallFactory(client=client_a, direction="outbound", to_number=PRIYA),
        "order, their number": CallFactory(client=client_a, from_number=PRIYA, metadata={"custom_field": "order-1000"}),
        "order, another number": CallFactory(
            client=client_a, from_number="+919811111111", metadata={"custom_field": "order-1006"}
        ),
        "order of no customer": CallFactory(
            client=client_a, from_number="+919811111112", notes=f"About {guest.name}, please call back"
        ),
        "shared number": CallFactory(client=client_a, from_number=SHARED),
        "unknown number": CallFactory(client=client_a, from_number="+919811100000"),
    }
    for call in made.values():
        call_link(call=call)
    made["never linked"] = CallFactory(client=client_a, from_number=PRIYA)
    return made


EXPECTED_MATCH = {
    "phone": CallMatch.PHONE,
    "outbound": CallMatch.PHONE,
    "order, their number": CallMatch.ORDER,
    "order, another number": CallMatch.ORDER,
    "order of no customer": CallMatch.ORDER,
    "shared number": CallMatch.AMBIGUOUS,
    "unknown number": CallMatch.NONE,
}


def linked_as_dict(linked) -> dict:
    return {
        "link": linked.link,
        "customer": linked.customer,
        "store": linked.store,
        "latest": linked.latest,
        "named": linked.named,
        "phone_is_theirs": linked.phone_is_theirs,
    }


# --- the card and the detail: one statement on PostgreSQL, the ORM elsewhere, the same answer ----------------


def test_it_links_the_fixture_calls_as_each_case_says(calls):
    links = {link.call_id: link.match for link in CallCustomer.objects.all()}
    assert {name: links.get(call.pk) for name, call in calls.items()} == {**EXPECTED_MATCH, "never linked": None}


@pytest.mark.postgres
@pytest.mark.parametrize("name", [*EXPECTED_MATCH, "never linked"])
def test_it_reads_the_same_link_customer_store_and_orders_in_one_statement_as_with_the_orm(calls, name):
    call = calls[name]

    by_orm = call_context._linked_by_orm(call, card=True)
    with CaptureQueriesContext(connection) as queries:
        by_sql = call_context._linked_by_sql(connection.alias, call)

    assert len(queries) == 1
    assert linked_as_dict(by_sql) == linked_as_dict(by_orm)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "store",
    [
        None,
        {"shop_domain": "acme.myshopify.com", "verified_at": None, "uninstalled_at": None},
        {"shop_domain": "acme.myshopify.com", "uninstalled_at": SINCE, "verified_at": None},
    ],
)
def test_it_reads_the_store_and_whether_it_is_connected_in_the_statement_too(client_a, store):
    if store is not None:
        ShopifyConnectionFactory(client=client_a, **store)
    customer_of(client_a, 1, phone=PRIYA)
    call = CallFactory(client=client_a, from_number=PRIYA)
    call_link(call=call)

    by_sql = call_context._linked_by_sql(connection.alias, call)

    assert linked_as_dict(by_sql) == linked_as_dict(call_context._linked_by_orm(call, card=True))
    assert by_sql.store.connected == (store is not None and store["uninstalled_at"] is None)


@pytest.mark.parametrize("name", [*EXPECTED_MATCH, "never linked"])
def test_the_card_and_the_detail_answer_as_they_did_with_a_query_per_table(calls, name):
    """What the card showed when it read each table on its own (kept here as the reference)."""
    call = calls[name]
    card = call_context.call_card(call=call)
    detail = call_context.call_detail(call)

    link = CallCustomer.objects.filter(call=call).first()
    customer = link.customer if link else None
    order = link.order if link else None
    latest = list(customer.orders.order_by("-processed_at", "-id")[:5]) if customer else []
    assert card["state"] == (
        CallMatch.ORDER if customer and order else CallMatch.PHONE if customer else EXPECTED_MATCH.get(name, "none")
    )
    assert card["connected"] is True
    if customer is None:
        assert card["customer"] is None and detail["customer"] is None
    else:
        named = [order] if order and order.customer_id == customer.pk else []
        shown = named + [row for row in latest if row != order][: 5 - len(named)]
        assert [row["name"] for row in card["customer"]["orders"]] == [row.name for row in shown]
        assert [row["name"] for row in detail["orders"]] == [row.name for row in shown]
        assert card["customer"]["name"] == customer.name == detail["customer"]["name"]
        assert card["customer"]["tags"] == ["vip", "cod"] == detail["customer"]["tags"]
        assert (
            card["customer"]["admin_url"] == f"https://acme-apparel.myshopify.com/admin/customers/{customer.shopify_id}"
        )
    if order is None:
        assert card["order"] is None
    else:
        assert card["order"]["name"] == order.name
        assert card["phone_is_theirs"] == (customer is not None and link.phone == PRIYA)
    if name == "order of no customer":
        assert [row["name"] for row in detail["orders"]] == ["#2000"] and card["order_list"][0]["name"] == "#2000"
    if name == "shared number":
        assert [row["name"] for row in card["candidates"]] == ["customer3@example.in", "First2 Last2"]
    assert detail["customer_match"] == (link.match if link else CallMatch.NONE)


@pytest.mark.postgres
@pytest.mark.parametrize(("name", "most"), [("phone", 1), ("order, another number", 1), ("shared number", 2)])
def test_the_card_is_one_statement_and_the_shared_numbers_customers_one_more(calls, name, most):
    with CaptureQueriesContext(connection) as queries:
        card = call_context.call_card(call=calls[name])
        rendered = json.dumps(card, default=str)  # every field the template reads, deferred ones would query

    assert len(queries) == most, [query["sql"] for query in queries]
    assert rendered


def test_the_call_page_reads_its_card_in_one_statement(alice, calls):
    browser = BrowserClient()
    browser.force_login(alice)
    url = f"/calls/{calls['order, another number'].public_id}/"
    browser.get(url)

    with CaptureQueriesContext(connection) as queries:
        with_card = browser.get(url)
    with override_settings(CALL_CONTEXT=""), CaptureQueriesContext(connection) as plain:
        without = browser.get(url)

    assert 'data-customer-state="order"' in with_card.content.decode()
    assert "data-customer-state" not in without.content.decode()
    if connection.vendor == "postgresql":
        assert len(queries) - len(plain) == 1
    else:  # the store, the link with its customer, the latest orders, the named one (when older), its number
        assert len(queries) - len(plain) <= 5


# --- the list's customer column: in the list's own statement ----------------------------------------------


def api_rows(api, user, query: str = "") -> tuple[list[dict], int]:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/v1/calls{query}")
    assert response.status_code == 200, response.content
    return response.json()["data"], len(queries)


def expected_customer(call: Call) -> dict | None:
    link = CallCustomer.objects.filter(call=call, customer__isnull=False).select_related("customer").first()
    if link is None:
        return None
    customer = link.customer
    name = f"{customer.first_name} {customer.last_name}".strip() or customer.email
    return {"id": str(customer.public_id), "name": name}


def test_the_column_adds_no_query_to_the_list(api, alice, calls):
    rows, with_column = api_rows(api, alice)
    with override_settings(CALL_CONTEXT=""):
        plain, without = api_rows(api, alice)

    assert with_column == without
    by_id = {str(call.public_id): expected_customer(call) for call in calls.values()}
    assert {row["id"]: row["customer"] for row in rows} == by_id
    assert [{**row, "customer": None} for row in rows] == plain  # the rest of each row as it was, key order too
    assert list(rows[0]) == list(plain[0])


def test_the_page_adds_no_query_for_the_column_either(alice, calls):
    browser = BrowserClient()
    browser.force_login(alice)
    browser.get("/calls/")

    with CaptureQueriesContext(connection) as queries:
        page = browser.get("/calls/").content.decode()
    with override_settings(CALL_CONTEXT=""), CaptureQueriesContext(connection) as plain:
        browser.get("/calls/")

    assert len(queries) == len(plain)
    priya = ShopifyCustomer.objects.get(shopify_id=8001)
    assert page.count(f'href="/customers/{priya.public_id}/">First1 Last1</a>') == 4


@pytest.mark.parametrize(
    ("first_name", "last_name", "email", "name"),
    [
        ("Priya", "Sharma", "p@example.in", "Priya Sharma"),
        ("", "", "p@example.in", "p@example.in"),
        ("  Priya ", "", "p@example.in", "Priya"),
        ("", "", "", ""),
        ("Zoë", "D'Souza", "", "Zoë D'Souza"),
        ("\tRavi\n", "", "r@example.in", "Ravi"),
    ],
)
def test_the_column_names_the_customer_as_before(api, alice, client_a, first_name, last_name, email, name):
    customer = customer_of(client_a, 1, phone=PRIYA, first_name=first_name, last_name=last_name, email=email)
    call = CallFactory(client=client_a, from_number=PRIYA)
    call_link(call=call)

    rows, _ = api_rows(api, alice)

    assert rows == [rows[0]] and rows[0]["customer"] == {"id": str(customer.public_id), "name": name}
    assert call_context.call_rows(client=client_a, call_ids=[call.pk]) == {call.pk: {"customer": rows[0]["customer"]}}


@pytest.mark.parametrize(
    "query",
    [
        "?limit=2",
        "?status=completed",
        "?number=%2B919876500001",
        "?q=First1",
        "?order=1006",
        "?direction=outbound",
        "?has_recording=false&limit=3",
    ],
)
def test_the_column_follows_every_filter_and_page(api, alice, calls, query):
    rows, _ = api_rows(api, alice, query)
    assert rows
    for row in rows:
        assert row["customer"] == expected_customer(Call.objects.get(public_id=row["id"]))


def test_the_column_reads_the_newer_and_older_pages_the_same(api, alice, calls):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=alice).access}")
    first = api.get("/api/v1/calls?limit=3").json()
    older = api.get("/api/v1/calls", {"limit": 3, "cursor": first["meta"]["pagination"]["next_cursor"]}).json()
    newer = api.get("/api/v1/calls", {"limit": 3, "cursor": older["meta"]["pagination"]["previous_cursor"]}).json()

    assert newer["data"] == first["data"]
    for row in first["data"] + older["data"]:
        assert row["customer"] == expected_customer(Call.objects.get(public_id=row["id"]))


def test_the_column_never_shows_another_clients_customer(api, charlie, client_b, calls):
    call = CallFactory(client=client_b, from_number="+919811100000")
    call_link(call=call)
    mine = ShopifyCustomer.objects.get(client=client_b)

    rows, _ = api_rows(api, charlie)

    assert [row["customer"] for row in rows] == [{"id": str(mine.public_id), "name": "First9 Last9"}]


@pytest.mark.postgres
def test_the_column_is_read_for_the_rows_of_the_page_only(client_a, calls):
    """A filter that makes PostgreSQL sort the matching calls still reads the customer of the page's rows only."""
    CallFactory.create_batch(120, client=client_a, from_number=PRIYA, status=CallStatus.COMPLETED)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE recordings_call")
    rows = (
        Call.objects.for_client(client_a)
        .filter(status=CallStatus.COMPLETED, started_at__lte=timezone.now())
        .values("id", **call_context.call_columns())
        .order_by("-started_at", "-id")[:11]
    )
    sql, params = rows.query.sql_with_params()

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def subplans(node):
        if node.get("Subplan Name", "").startswith("SubPlan"):
            yield node
        for child in node.get("Plans", []):
            yield from subplans(child)

    (subplan,) = subplans(plan[0]["Plan"])
    assert subplan["Actual Loops"] <= 11
