"""The Customers pages, the customer card on a call page and the calls list's customer column and filters,
with Django's test client."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from integrations.models import CallCustomer, CallMatch, PhoneSource, ShopifyCustomer, ShopifyOrder, ShopifyPhone
from integrations.shopify import linking
from recordings.models import Call
from tests.factories import CallFactory, ShopifyConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

SINCE = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)


def text(response) -> str:
    return html.unescape(response.content.decode())


def words(response) -> str:
    """The page's text without tags, spaces collapsed: what a reader sees."""
    return " ".join(re.sub(r"<[^>]+>", "", text(response)).split())


def signed_in(user) -> BrowserClient:
    browser = BrowserClient()
    browser.force_login(user)
    return browser


def listed(response) -> list[str]:
    """The public ids of the customers in a list page, top to bottom."""
    return re.findall(r'<tr data-customer="([0-9a-f-]{36})">', response.content.decode())


def link(response, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', response.content.decode())
    return html.unescape(match.group(1)) if match else None


def make_customer(client, n: int, *, phones: tuple[str, ...] = (), **fields) -> ShopifyCustomer:
    """Customer n of `client`, created n days after SINCE; `phones` are indexed (the first is its own)."""
    values = {
        "shopify_id": 7_000 + n,
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
        "email": f"customer{n}@example.in",
        "phone": phones[0] if phones else "",
        "tags": [],
        "currency": "INR",
        "shopify_created_at": SINCE + timedelta(days=n),
        **fields,
    }
    customer = ShopifyCustomer.objects.create(client=client, **values)
    for index, phone in enumerate(phones):
        source = PhoneSource.CUSTOMER if index == 0 else PhoneSource.DEFAULT_ADDRESS
        ShopifyPhone.objects.create(client=client, phone=phone, customer=customer, source=source)
    return customer


def make_order(customer: ShopifyCustomer, number: int, *, days: int = 0, **fields) -> ShopifyOrder:
    values = {
        "shopify_id": 900_000 + number,
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
    return ShopifyOrder.objects.create(client=customer.client, customer=customer, **values)


def link_call(call: Call, *, match: str, customer=None, order=None, phone: str = "") -> CallCustomer:
    return CallCustomer.objects.create(
        client=call.client, call=call, customer=customer, order=order, match=match, phone=phone or call.from_number
    )


def member(client, role: Role):
    return UserFactory(email=f"{role}@{client.slug}.example", client=client, role=role)


# --- the list ------------------------------------------------------------------------------------


def test_it_lists_the_clients_customers_newest_first(alice, client_a, client_b):
    old = make_customer(client_a, 1, phones=("+919876500001",), tags=["vip", "wholesale"], orders_count=3)
    new = make_customer(client_a, 2, total_spent=Decimal("12499.50"))
    make_customer(client_b, 3, first_name="Outsider")

    response = signed_in(alice).get("/customers/")

    assert response.status_code == 200
    assert listed(response) == [str(new.public_id), str(old.public_id)]
    body = text(response)
    assert "First1 Last1" in body and "customer1@example.in" in body and "+919876500001" in body
    assert "vip" in body and "wholesale" in body
    assert "INR 12,499.50" in body
    assert "Outsider" not in body
    assert 'href="/customers/" aria-current="page">Customers</a>' in body


@pytest.mark.parametrize("role", list(Role))
def test_every_role_reads_the_customers(client_a, role):
    customer = make_customer(client_a, 1)
    browser = signed_in(member(client_a, role))

    assert browser.get("/customers/").status_code == 200
    assert browser.get(f"/customers/{customer.public_id}/").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client_a):
    customer = make_customer(client_a, 1)

    for path in ("/customers/", f"/customers/{customer.public_id}/"):
        response = BrowserClient().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_another_clients_customer_is_not_found(alice, charlie, client_a):
    customer = make_customer(client_a, 1)

    assert signed_in(charlie).get(f"/customers/{customer.public_id}/").status_code == 404
    assert listed(signed_in(charlie).get("/customers/")) == []
    assert signed_in(alice).get(f"/customers/{customer.public_id}/").status_code == 200


@pytest.mark.parametrize(
    "q",
    ["+91 98765 00001", "098765 00001", "9876500001", "+919876500001", "(0) 98765-00001"],
)
def test_a_phone_is_read_with_the_clients_country_and_matched_exactly(alice, client_a, q):
    wanted = make_customer(client_a, 1, phones=("+919876500001",))
    make_customer(client_a, 2, phones=("+919876500002",))

    assert listed(signed_in(alice).get("/customers/", {"q": q})) == [str(wanted.public_id)]


def test_a_phone_matches_any_of_the_customers_numbers_and_their_orders(alice, client_a):
    by_address = make_customer(client_a, 1, phones=("+919876500001", "+919876511111"))
    by_order = make_customer(client_a, 2)
    order = make_order(by_order, 1042)
    ShopifyPhone.objects.create(client=client_a, phone="+919876522222", order=order, source=PhoneSource.SHIPPING)
    browser = signed_in(alice)

    assert listed(browser.get("/customers/", {"q": "98765 11111"})) == [str(by_address.public_id)]
    assert listed(browser.get("/customers/", {"q": "98765 22222"})) == [str(by_order.public_id)]


def test_a_shared_number_lists_every_customer_with_it(alice, client_a):
    one = make_customer(client_a, 1, phones=("+919876500009",))
    two = make_customer(client_a, 2, phones=("+919876500009",))

    assert listed(signed_in(alice).get("/customers/", {"q": "9876500009"})) == [str(two.public_id), str(one.public_id)]


def test_it_searches_names_emails_and_order_names(alice, client_a):
    priya = make_customer(client_a, 1, first_name="Priya", last_name="Sharma", email="priya.s@example.in")
    rahul = make_customer(client_a, 2, first_name="Rahul", last_name="Sharma", email="rahul@example.in")
    make_order(rahul, 1042)
    browser = signed_in(alice)

    assert listed(browser.get("/customers/", {"q": "sharma"})) == [str(rahul.public_id), str(priya.public_id)]
    assert listed(browser.get("/customers/", {"q": "Priya  Sharma"})) == [str(priya.public_id)]
    assert listed(browser.get("/customers/", {"q": "priya.s@"})) == [str(priya.public_id)]
    assert listed(browser.get("/customers/", {"q": "#1042"})) == [str(rahul.public_id)]
    response = browser.get("/customers/", {"q": "nobody"})
    assert response.status_code == 200 and "No customers match this search." in text(response)


def test_a_search_never_shows_another_clients_customers(charlie, client_a, client_b):
    make_customer(client_a, 1, first_name="Priya", phones=("+919876500001",))
    make_order(make_customer(client_a, 2), 1042)
    mine = make_customer(client_b, 3, first_name="Priya")
    browser = signed_in(charlie)

    assert listed(browser.get("/customers/", {"q": "priya"})) == [str(mine.public_id)]
    assert listed(browser.get("/customers/", {"q": "+919876500001"})) == []
    assert listed(browser.get("/customers/", {"q": "#1042"})) == []


def test_the_list_pages_with_cursors(alice, client_a):
    made = [make_customer(client_a, n) for n in range(5)]
    newest_first = [str(c.public_id) for c in reversed(made)]
    browser = signed_in(alice)

    first = browser.get("/customers/", {"limit": 2})
    assert listed(first) == newest_first[:2] and link(first, "prev") is None
    second = browser.get(link(first, "next"))
    assert listed(second) == newest_first[2:4]
    third = browser.get(link(second, "next"))
    assert listed(third) == newest_first[4:] and link(third, "next") is None
    assert listed(browser.get(link(third, "prev"))) == newest_first[2:4]


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJwIjpbbnVsbCwxXSwiYiI6ZmFsc2V9"},  # {"p":[null,1],"b":false}
        {"limit": "0"},
        {"limit": "100000"},
        {"limit": "ten"},
        {"q": "x" * 101},
        {"q": "+1 555 0100"},  # looks like a phone, is not a valid number
    ],
)
def test_bad_query_parameters_are_a_400_page(alice, client_a, query):
    make_customer(client_a, 1)

    response = signed_in(alice).get("/customers/", query)

    assert response.status_code == 400
    assert 'data-customer="' not in response.content.decode()


@pytest.mark.parametrize("q", ["%", "_", "' OR 1=1 --", "\\", "名前", "a\x00b", "#", "#99999999999999999999", "@"])
def test_odd_searches_never_fail(alice, client_a, q):
    make_customer(client_a, 1)

    response = signed_in(alice).get("/customers/", {"q": q})

    assert response.status_code in (200, 400)


def test_empty_parameters_are_dropped_from_the_address(alice):
    response = signed_in(alice).get("/customers/", {"q": "", "limit": "10"})

    assert response.status_code == 302 and response["Location"] == "/customers/?limit=10"


def test_the_empty_list_says_how_to_get_customers(alice, client_a):
    assert "Connect Shopify on the Integrations page" in text(signed_in(alice).get("/customers/"))
    ShopifyConnectionFactory(client=client_a)
    assert "first customers sync" in text(signed_in(alice).get("/customers/"))


# --- one customer --------------------------------------------------------------------------------


def test_the_customer_page_shows_contact_orders_with_shopify_links_and_calls(alice, client_a):
    ShopifyConnectionFactory(client=client_a, shop_domain="acme-apparel.myshopify.com")
    customer = make_customer(
        client_a,
        1,
        phones=("+919876500001",),
        tags=["vip"],
        orders_count=2,
        total_spent=Decimal("3198.00"),
    )
    make_order(customer, 1041, days=1, financial_status="paid", fulfillment_status="fulfilled")
    make_order(
        customer,
        1042,
        days=5,
        financial_status="pending",
        fulfillment_status="",
        total=Decimal("1699.00"),
        item_count=1,
    )
    call = CallFactory(client=client_a, from_number="+919876500001")
    link_call(call, match=CallMatch.PHONE, customer=customer)
    other = CallFactory(client=client_a, from_number="+919800000000")
    link_call(other, match=CallMatch.NONE)

    response = signed_in(alice).get(f"/customers/{customer.public_id}/")

    assert response.status_code == 200
    body = text(response)
    assert "<h1>First1 Last1</h1>" in body
    assert "customer1@example.in" in body and "+919876500001" in body and "vip" in body
    assert "INR 3,198.00" in body
    assert body.index("#1042") < body.index("#1041")  # newest first
    assert 'href="https://acme-apparel.myshopify.com/admin/orders/901042"' in body
    assert 'href="https://acme-apparel.myshopify.com/admin/customers/7001"' in body
    assert "Pending" in body and "Unfulfilled" in body and "Paid" in body and "Fulfilled" in body
    assert "INR 1,699.00 · 1 item" in body
    assert f'href="/calls/{call.public_id}/"' in body
    assert f"/calls/{other.public_id}/" not in body


def test_without_a_store_the_orders_have_no_shopify_links(alice, client_a):
    customer = make_customer(client_a, 1)
    make_order(customer, 1042)

    body = text(signed_in(alice).get(f"/customers/{customer.public_id}/"))

    assert "#1042" in body and "myshopify.com" not in body


def test_an_unknown_customer_is_not_found(alice):
    assert signed_in(alice).get("/customers/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert signed_in(alice).get("/customers/not-a-uuid/").status_code == 404


def test_the_customer_pages_answer_only_safe_methods(alice, client_a):
    customer = make_customer(client_a, 1)
    browser = signed_in(alice)

    assert browser.post("/customers/").status_code == 405
    assert browser.post(f"/customers/{customer.public_id}/").status_code == 405


# --- the customer card on a call page --------------------------------------------------------------


def card_state(response) -> str | None:
    match = re.search(r'data-customer-state="([a-z]+)"', response.content.decode())
    return match.group(1) if match else None


def test_a_call_from_a_customers_number_shows_their_card(alice, client_a):
    ShopifyConnectionFactory(client=client_a, shop_domain="acme-apparel.myshopify.com")
    customer = make_customer(
        client_a, 1, phones=("+919876500001",), tags=["vip", "cod"], orders_count=7, total_spent=Decimal("10493.00")
    )
    for n in range(7):
        make_order(customer, 1040 + n, days=n)
    call = CallFactory(client=client_a, from_number="+919876500001")
    linking.call_link(call=call)

    response = signed_in(alice).get(f"/calls/{call.public_id}/")

    assert response.status_code == 200 and card_state(response) == "phone"
    body = text(response)
    assert f'<a href="/customers/{customer.public_id}/">First1 Last1</a>' in body
    assert "customer1@example.in" in body and "vip" in body and "cod" in body
    assert "INR 10,493.00 · 7 orders" in body
    shown = re.findall(r"#(10[0-9]{2})", body)
    assert shown == ["1046", "1045", "1044", "1043", "1042"]  # the latest five, newest first
    assert 'href="https://acme-apparel.myshopify.com/admin/orders/901046"' in body
    assert "No Shopify customer has this number" not in body


def test_an_outbound_call_is_matched_by_the_dialled_number(alice, client_a):
    make_customer(client_a, 1, phones=("+919876500001",))
    call = CallFactory(client=client_a, direction="outbound", from_number="+918047181234", to_number="+919876500001")
    linking.call_link(call=call)

    assert "First1 Last1" in text(signed_in(alice).get(f"/calls/{call.public_id}/"))


def test_an_order_named_in_the_custom_field_links_the_call_from_an_unknown_number(alice, client_a):
    customer = make_customer(client_a, 1, phones=("+919876500001",))
    make_order(customer, 1041, days=1)
    make_order(customer, 1042, days=0)  # older than 1041, yet shown first: the call is about it
    call = CallFactory(client=client_a, from_number="+919811111111", metadata={"custom_field": "order-1042"})
    linking.call_link(call=call)

    response = signed_in(alice).get(f"/calls/{call.public_id}/")

    assert card_state(response) == "order"
    body = text(response)
    assert "Order #1042 was named on this call; the number +919811111111 is not one of the customer's." in words(
        response
    )
    assert "First1 Last1" in body
    assert body.index("#1042") < body.index("#1041")


def test_an_order_named_by_the_customer_calling_from_their_own_number(alice, client_a):
    customer = make_customer(client_a, 1, phones=("+919876500001",))
    make_order(customer, 1042)
    call = CallFactory(client=client_a, from_number="+919876500001", notes="Wants to return order #1042")
    linking.call_link(call=call)

    body = text(signed_in(alice).get(f"/calls/{call.public_id}/"))

    assert "Order #1042 was named on this call." in body


def test_a_shared_number_lists_the_customers_and_guesses_none(alice, client_a):
    one = make_customer(client_a, 1, phones=("+919876500009",))
    two = make_customer(client_a, 2, phones=("+919876500009",), first_name="Sunita")
    call = CallFactory(client=client_a, from_number="+919876500009")
    linking.call_link(call=call)

    response = signed_in(alice).get(f"/calls/{call.public_id}/")

    assert card_state(response) == "ambiguous"
    body = text(response)
    assert "Several Shopify customers share this number (+919876500009)" in words(response)
    assert f'href="/customers/{one.public_id}/"' in body and f'href="/customers/{two.public_id}/"' in body
    assert "Latest orders" not in body


def test_a_number_no_customer_has(alice, client_a, client_b):
    make_customer(client_b, 1, phones=("+919876500001",))  # another client's customer never counts
    call = CallFactory(client=client_a, from_number="+919876500001")
    linking.call_link(call=call)

    response = signed_in(alice).get(f"/calls/{call.public_id}/")

    assert card_state(response) == "none"
    body = text(response)
    assert "No Shopify customer has this number (+919876500001)." in words(response)
    assert "First1" not in body
    assert "Connect Shopify on the Integrations page" in body


def test_a_call_not_linked_yet_says_no_customer(alice, client_a):
    ShopifyConnectionFactory(client=client_a)
    call = CallFactory(client=client_a)

    response = signed_in(alice).get(f"/calls/{call.public_id}/")

    assert card_state(response) == "none" and "No Shopify customer has this number" in text(response)
    assert "Connect Shopify" not in text(response)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_sees_the_card(client_a, role):
    make_customer(client_a, 1, phones=("+919876500001",))
    call = CallFactory(client=client_a, from_number="+919876500001")
    linking.call_link(call=call)

    response = signed_in(member(client_a, role)).get(f"/calls/{call.public_id}/")

    assert card_state(response) == "phone" and "First1 Last1" in text(response)


def test_the_card_costs_a_few_queries_whatever_the_orders(alice, client_a, django_assert_max_num_queries):
    customer = make_customer(client_a, 1, phones=("+919876500001",))
    for n in range(30):
        make_order(customer, 2000 + n, days=n)
    call = CallFactory(client=client_a, from_number="+919876500001", metadata={"custom_field": "order-2003"})
    linking.call_link(call=call)
    browser = signed_in(alice)
    browser.get(f"/calls/{call.public_id}/")  # sessions and caches warm

    with CaptureQueriesContext(connection) as queries:
        browser.get(f"/calls/{call.public_id}/")
    shopify = [q["sql"] for q in queries.captured_queries if "integrations_" in q["sql"]]
    assert len(shopify) <= 6, shopify  # link, store, customer, latest orders, the named one, its number


# --- the calls list: customer column and filters ---------------------------------------------------


def calls_listed(response) -> list[str]:
    return re.findall(r'<tr data-call="([0-9a-f-]{36})">', response.content.decode())


@pytest.fixture
def linked_calls(client_a):
    """Priya (two calls, one about order #1042), Rahul (one call), an unknown number and a shared one."""
    now = datetime.now(UTC)
    priya = make_customer(client_a, 1, first_name="Priya", last_name="Sharma", phones=("+919876500001",))
    rahul = make_customer(client_a, 2, first_name="Rahul", last_name="Verma", phones=("+919876500002",))
    make_customer(client_a, 3, phones=("+919876500009",))
    make_customer(client_a, 4, phones=("+919876500009",))
    make_order(priya, 1042)
    calls = {
        "priya": CallFactory(client=client_a, from_number="+919876500001", started_at=now - timedelta(hours=1)),
        "priya_order": CallFactory(
            client=client_a,
            from_number="+919876500001",
            started_at=now - timedelta(hours=2),
            metadata={"custom_field": "order-1042"},
        ),
        "rahul": CallFactory(client=client_a, from_number="+919876500002", started_at=now - timedelta(hours=3)),
        "unknown": CallFactory(client=client_a, from_number="+919811111111", started_at=now - timedelta(hours=4)),
        "shared": CallFactory(client=client_a, from_number="+919876500009", started_at=now - timedelta(hours=5)),
    }
    for call in calls.values():
        linking.call_link(call=call)
    return {"priya": priya, "rahul": rahul, **{f"call_{k}": str(v.public_id) for k, v in calls.items()}}


def test_the_calls_list_has_a_customer_column(alice, linked_calls):
    response = signed_in(alice).get("/calls/")

    body = text(response)
    assert '<th scope="col">Customer</th>' in body
    rows = dict(
        re.findall(
            r'<tr data-call="([0-9a-f-]{36})">.*?<td data-label="Customer" class="customer">(.*?)</td>', body, re.S
        )
    )
    assert f'href="/customers/{linked_calls["priya"].public_id}/">Priya Sharma</a>' in rows[linked_calls["call_priya"]]
    assert "Priya Sharma" in rows[linked_calls["call_priya_order"]]
    assert "Rahul Verma" in rows[linked_calls["call_rahul"]]
    assert "—" in rows[linked_calls["call_unknown"]] and "—" in rows[linked_calls["call_shared"]]


def test_the_customer_column_is_one_query_for_a_page(alice, client_a, linked_calls):
    browser = signed_in(alice)
    browser.get("/calls/")

    with CaptureQueriesContext(connection) as queries:
        response = browser.get("/calls/")
    assert response.status_code == 200
    links = [q["sql"] for q in queries.captured_queries if "integrations_callcustomer" in q["sql"]]
    assert len(links) == 1, links


def test_the_calls_of_one_customer(alice, linked_calls):
    priya = linked_calls["priya"]

    response = signed_in(alice).get("/calls/", {"customer": str(priya.public_id)})

    assert response.status_code == 200
    assert calls_listed(response) == [linked_calls["call_priya"], linked_calls["call_priya_order"]]
    body = text(response)
    assert f'Calls with <a href="/customers/{priya.public_id}/">Priya Sharma</a>' in body
    assert 'href="/calls/">Show every caller\'s calls</a>' in body
    assert f'<input type="hidden" name="customer" value="{priya.public_id}"' in body  # the form keeps it


def test_the_customer_page_links_to_their_calls_in_the_list(alice, linked_calls):
    priya = linked_calls["priya"]
    browser = signed_in(alice)

    body = text(browser.get(f"/customers/{priya.public_id}/"))
    url = re.search(r'href="(/calls/\?customer=[^"]+)"', body).group(1)

    assert calls_listed(browser.get(url)) == [linked_calls["call_priya"], linked_calls["call_priya_order"]]


@pytest.mark.parametrize("order", ["#1042", "1042", "order-1042"])
def test_the_calls_about_one_order(alice, linked_calls, order):
    response = signed_in(alice).get("/calls/", {"order": order})

    assert response.status_code == 200
    assert calls_listed(response) == [linked_calls["call_priya_order"]]
    assert 'name="order"' in response.content.decode()


def test_q_finds_calls_by_the_customers_name_and_email(alice, linked_calls):
    browser = signed_in(alice)

    assert calls_listed(browser.get("/calls/", {"q": "Verma"})) == [linked_calls["call_rahul"]]
    assert calls_listed(browser.get("/calls/", {"q": "customer1@example.in"})) == [
        linked_calls["call_priya"],
        linked_calls["call_priya_order"],
    ]


def test_another_clients_customer_or_order_finds_nothing(charlie, linked_calls):
    browser = signed_in(charlie)

    assert calls_listed(browser.get("/calls/", {"customer": str(linked_calls["priya"].public_id)})) == []
    assert calls_listed(browser.get("/calls/", {"order": "#1042"})) == []
    assert calls_listed(browser.get("/calls/", {"q": "Priya"})) == []


@pytest.mark.parametrize(
    "query",
    [{"customer": "not-a-uuid"}, {"customer": "1"}, {"order": "x" * 65}],
)
def test_bad_customer_or_order_filters_are_a_400_page(alice, linked_calls, query):
    response = signed_in(alice).get("/calls/", query)

    assert response.status_code == 400
    assert calls_listed(response) == []
    assert "Correct the filters above" in text(response)


def test_the_search_box_finds_customers_calls_and_says_what_is_wrong(alice, linked_calls):
    browser = signed_in(alice)

    found = browser.get("/calls/", {"q": "priya"})
    assert calls_listed(found) == [linked_calls["call_priya"], linked_calls["call_priya_order"]]
    assert 'name="q" value="priya"' in found.content.decode()
    short = browser.get("/calls/", {"q": "pr"})
    assert short.status_code == 400 and calls_listed(short) == []
    assert 'id="id_q_error"' in short.content.decode()


def test_an_orders_date_is_the_clients_local_day(alice, client_a):
    client_a.timezone = "Asia/Kolkata"
    client_a.save(update_fields=["timezone"])
    customer = make_customer(client_a, 1)
    make_order(customer, 1042, processed_at=datetime(2025, 3, 12, 20, 0, tzinfo=UTC))  # 01:30 on the 13th there

    page = text(signed_in(alice).get(f"/customers/{customer.public_id}/"))

    assert '<time class="muted" datetime="2025-03-13T01:30:00+05:30">13 Mar 2025</time>' in page
