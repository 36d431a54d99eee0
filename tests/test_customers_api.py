"""The API of Shopify customers: calls with their customer and orders, the customers list and detail, and the
number lookup (the screen-pop)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import jwt
from accounts.roles import Role
from integrations.models import ShopifyCustomer
from integrations.shopify import linking
from integrations.shopify.customers import customers_upsert, orders_upsert
from integrations.shopify.payloads import CustomerData, OrderData
from recordings.models import Call
from tests.factories import CallFactory, ShopifyConnectionFactory, UserFactory

pytestmark = pytest.mark.django_db

CALLER = "+919876543210"
SHARED = "+919811100000"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(client_a):
    """Client A's store: Asha (two orders, one cancelled), Ravi and Meera sharing a number, and calls."""
    ShopifyConnectionFactory(client=client_a, shop_domain="acme-apparel.myshopify.com")
    customers_upsert(
        client=client_a,
        customers=[
            CustomerData(
                shopify_id=1,
                first_name="Asha",
                last_name="Rao",
                email="asha@example.com",
                phone="098765 43210",
                tags=["vip"],
                orders_count=2,
                total_spent=Decimal("1598.00"),
                currency="INR",
                created_at=T0,
                updated_at=T0,
            ),
            CustomerData(
                shopify_id=2, first_name="Ravi", last_name="Kumar", phone=SHARED, created_at=T0 + timedelta(1)
            ),
            CustomerData(
                shopify_id=3, first_name="Meera", last_name="Iyer", phone=SHARED, created_at=T0 + timedelta(2)
            ),
        ],
        synced_at=T0,
    )
    orders_upsert(
        client=client_a,
        orders=[
            OrderData(
                shopify_id=501,
                name="#1042",
                number=1042,
                customer_shopify_id=1,
                processed_at=T0,
                financial_status="paid",
                total=Decimal("799.00"),
                currency="INR",
                item_count=2,
            ),
            OrderData(
                shopify_id=502,
                name="#1043",
                number=1043,
                customer_shopify_id=1,
                processed_at=T0 + timedelta(days=1),
                financial_status="refunded",
                cancelled_at=T0 + timedelta(days=2),
                total=Decimal("799.00"),
                currency="INR",
                item_count=1,
            ),
        ],
        synced_at=T0,
    )
    calls = {
        "asha": CallFactory(client=client_a, from_number=CALLER, started_at=T0 + timedelta(days=3)),
        "order": CallFactory(
            client=client_a, from_number="+919000000001", metadata={"custom_field": "order-1042"}, started_at=T0
        ),
        "shared": CallFactory(client=client_a, from_number=SHARED, started_at=T0 + timedelta(days=4)),
        "unknown": CallFactory(client=client_a, from_number="+919000000002", started_at=T0 + timedelta(days=5)),
    }
    for call in calls.values():
        linking.call_link(call=call)
    return calls


def customer(client, shopify_id) -> ShopifyCustomer:
    return ShopifyCustomer.objects.get(client=client, shopify_id=shopify_id)


def signed_in(api, user):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
    return api


@pytest.fixture
def viewer(client_a):
    return UserFactory(email="viola@acme.example", client=client_a, role=Role.VIEWER)


# --- calls ------------------------------------------------------------------------------------


def test_a_calls_detail_shows_its_customer_and_latest_orders(api, viewer, store, client_a):
    data = signed_in(api, viewer).get(f"/api/v1/calls/{store['asha'].public_id}").json()["data"]
    asha = customer(client_a, 1)
    assert data["customer"] == {
        "id": str(asha.public_id),
        "name": "Asha Rao",
        "email": "asha@example.com",
        "phone": CALLER,
        "tags": ["vip"],
        "orders_count": 2,
        "total_spent": "1598.00",
        "currency": "INR",
    }
    assert data["customer_match"] == "phone"
    assert [order["name"] for order in data["orders"]] == ["#1043", "#1042"]
    assert data["orders"][1] | {"id": None, "processed_at": None} == {
        "id": None,
        "name": "#1042",
        "processed_at": None,
        "financial_status": "paid",
        "fulfillment_status": "",
        "cancelled_at": None,
        "total": "799.00",
        "currency": "INR",
        "item_count": 2,
        "admin_url": "https://acme-apparel.myshopify.com/admin/orders/501",
    }


def test_a_call_linked_by_its_order_shows_that_order_first(api, alice, store):
    data = signed_in(api, alice).get(f"/api/v1/calls/{store['order'].public_id}").json()["data"]
    assert (data["customer_match"], data["customer"]["name"]) == ("order", "Asha Rao")
    assert [order["name"] for order in data["orders"]] == ["#1042", "#1043"]


@pytest.mark.parametrize(("call", "match"), [("shared", "ambiguous"), ("unknown", "none")])
def test_a_call_without_one_customer_says_why(api, alice, store, call, match):
    data = signed_in(api, alice).get(f"/api/v1/calls/{store[call].public_id}").json()["data"]
    assert (data["customer"], data["orders"], data["customer_match"]) == (None, [], match)


def test_a_call_never_linked_has_no_customer(api, alice, client_a):
    call = CallFactory(client=client_a)
    data = signed_in(api, alice).get(f"/api/v1/calls/{call.public_id}").json()["data"]
    assert (data["customer"], data["customer_match"]) == (None, "none")


def test_the_calls_list_shows_each_calls_customer_with_one_query_for_the_page(api, alice, store, client_a):
    signed_in(api, alice)
    with CaptureQueriesContext(connection) as queries:
        rows = api.get("/api/v1/calls").json()["data"]
    customers = {row["id"]: row["customer"] for row in rows}
    asha = {"id": str(customer(client_a, 1).public_id), "name": "Asha Rao"}
    assert customers == {
        str(store["asha"].public_id): asha,
        str(store["order"].public_id): asha,
        str(store["shared"].public_id): None,
        str(store["unknown"].public_id): None,
    }
    assert len([q for q in queries if "integrations_callcustomer" in q["sql"]]) == 1


def test_calls_filter_by_customer_and_by_order(api, alice, store, client_a):
    signed_in(api, alice)
    asha = customer(client_a, 1).public_id

    def ids(**query):
        response = api.get("/api/v1/calls", query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["data"]}

    both = {str(store["asha"].public_id), str(store["order"].public_id)}
    assert ids(customer=asha) == both
    assert ids(order="#1042") == ids(order="1042") == ids(order="order-1042") == {str(store["order"].public_id)}
    assert ids(order="#9999") == set()
    assert ids(customer=customer(client_a, 2).public_id) == set()  # shares a number: linked to no call


def test_q_also_finds_calls_by_customer_name_email_and_order_name(api, alice, store):
    signed_in(api, alice)

    def ids(q):
        return {row["id"] for row in api.get("/api/v1/calls", {"q": q}).json()["data"]}

    both = {str(store["asha"].public_id), str(store["order"].public_id)}
    assert ids("asha") == ids("Asha Rao") == ids("asha@exa") == both
    assert ids("#1042") == both  # the order's call, and its customer's
    assert ids("+9190000") == {str(store["order"].public_id), str(store["unknown"].public_id)}  # numbers still


@pytest.mark.parametrize(
    "query", [{"customer": "not-a-uuid"}, {"order": "x" * 65}, {"customer": ""}, {"order": ""}, {"q": "as"}]
)
def test_bad_customer_filters_are_refused(api, alice, query):
    response = signed_in(api, alice).get("/api/v1/calls", query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_a_customer_of_another_client_filters_to_nothing(api, charlie, store, client_a):
    response = signed_in(api, charlie).get("/api/v1/calls", {"customer": customer(client_a, 1).public_id})
    assert (response.status_code, response.json()["data"]) == (200, [])


# --- customers ----------------------------------------------------------------------------------


def test_viewers_list_customers_newest_first_with_cursor_pages(api, viewer, store):
    signed_in(api, viewer)
    first = api.get("/api/v1/customers", {"limit": 2}).json()
    assert [row["name"] for row in first["data"]] == ["Meera Iyer", "Ravi Kumar"]
    cursor = first["meta"]["pagination"]["next_cursor"]
    second = api.get("/api/v1/customers", {"limit": 2, "cursor": cursor}).json()
    assert [row["name"] for row in second["data"]] == ["Asha Rao"]
    assert second["meta"]["pagination"]["has_more"] is False


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ("asha", ["Asha Rao"]),
        ("rao asha", ["Asha Rao"]),
        ("asha@example", ["Asha Rao"]),
        ("98765 43210", ["Asha Rao"]),
        ("+919876543210", ["Asha Rao"]),
        (SHARED, ["Meera Iyer", "Ravi Kumar"]),
        ("#1042", ["Asha Rao"]),
        ("nobody", []),
        ("12345", []),
    ],
)
def test_customers_are_found_by_name_email_phone_or_order(api, alice, store, q, names):
    response = signed_in(api, alice).get("/api/v1/customers", {"q": q})
    assert [row["name"] for row in response.json()["data"]] == names


def test_a_customers_detail_has_their_orders_and_calls(api, viewer, store, client_a):
    asha = customer(client_a, 1)
    data = signed_in(api, viewer).get(f"/api/v1/customers/{asha.public_id}").json()["data"]
    assert data["name"] == "Asha Rao"
    assert [order["name"] for order in data["orders"]] == ["#1043", "#1042"]
    assert [call["id"] for call in data["calls"]] == [str(store["asha"].public_id), str(store["order"].public_id)]


def test_another_clients_customer_is_not_found(api, charlie, store, client_a):
    response = signed_in(api, charlie).get(f"/api/v1/customers/{customer(client_a, 1).public_id}")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "NOT_FOUND")


def test_the_customers_api_needs_a_signed_in_client_user(api, store, client_a):
    assert api.get("/api/v1/customers").status_code == 401
    assert api.get("/api/v1/lookup", {"phone": CALLER}).status_code == 401


@pytest.mark.parametrize("query", [{"cursor": "nonsense"}, {"limit": "0"}, {"q": "x" * 101}])
def test_bad_customer_list_parameters_are_refused(api, alice, query):
    response = signed_in(api, alice).get("/api/v1/customers", query)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")


# --- lookup ---------------------------------------------------------------------------------------


def test_lookup_answers_the_customer_their_open_orders_and_last_calls(api, viewer, store, client_a):
    data = signed_in(api, viewer).get("/api/v1/lookup", {"phone": "098765 43210"}).json()["data"]
    assert (data["phone"], data["customer_match"], data["candidates"]) == (CALLER, "phone", [])
    assert data["customer"]["id"] == str(customer(client_a, 1).public_id)
    assert [order["name"] for order in data["open_orders"]] == ["#1042"]  # #1043 was cancelled
    assert [call["id"] for call in data["calls"]] == [str(store["asha"].public_id)]


def test_lookup_of_a_shared_number_lists_the_candidates(api, alice, store):
    data = signed_in(api, alice).get("/api/v1/lookup", {"phone": SHARED}).json()["data"]
    assert (data["customer_match"], data["customer"]) == ("ambiguous", None)
    assert [row["name"] for row in data["candidates"]] == ["Meera Iyer", "Ravi Kumar"]
    assert [call["id"] for call in data["calls"]] == [str(store["shared"].public_id)]


def test_lookup_of_an_unknown_number_still_shows_its_calls(api, alice, store):
    data = signed_in(api, alice).get("/api/v1/lookup", {"phone": "+919000000002"}).json()["data"]
    assert (data["customer_match"], data["customer"], data["open_orders"]) == ("none", None, [])
    assert [call["id"] for call in data["calls"]] == [str(store["unknown"].public_id)]


def test_lookup_never_answers_with_another_clients_customer(api, charlie, store):
    data = signed_in(api, charlie).get("/api/v1/lookup", {"phone": CALLER}).json()["data"]
    assert (data["customer_match"], data["customer"], data["calls"]) == ("none", None, [])


@pytest.mark.parametrize("phone", ["", "12", "not a number", "+99912345", "1" * 65, "+91 98765"])
def test_lookup_of_a_malformed_number_is_refused(api, alice, store, phone):
    response = signed_in(api, alice).get("/api/v1/lookup", {"phone": phone})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert "phone" in response.json()["error"]["details"]


def test_lookup_needs_the_phone(api, alice):
    response = signed_in(api, alice).get("/api/v1/lookup")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")


def test_reading_changes_nothing(api, alice, store, client_a):
    before = list(Call.objects.filter(client=client_a).order_by("pk").values())
    signed_in(api, alice)
    api.get("/api/v1/lookup", {"phone": CALLER})
    api.get("/api/v1/customers", {"q": "asha"})
    assert list(Call.objects.filter(client=client_a).order_by("pk").values()) == before
