"""The caller's Shopify customer in a real browser: an agent opens a call and sees its customer card, follows it
to the customer's page and back to their calls in the list; the pages fit a phone and break no CSP rule.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's live server,
like tests/test_browser_recordings.py.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from integrations.shopify import linking
from tests.factories import CallFactory, ClientFactory, ShopifyConnectionFactory, UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401
from tests.test_browser_recordings import DESKTOP, MOBILE, has_horizontal_scroll, open_page, sign_in  # noqa: F401
from tests.test_customers_pages import make_customer, make_order

pytestmark = pytest.mark.browser


@pytest.fixture
def shop(transactional_db):
    """Acme's store: Priya with two orders calling from her number, a call naming her order from another
    phone, and a call from a number no customer has."""
    acme = ClientFactory(name="Acme Apparel", slug="acme-apparel")
    UserFactory(email="agent@acme.example", client=acme, role=Role.AGENT)
    ShopifyConnectionFactory(client=acme, shop_domain="acme-apparel.myshopify.com")
    priya = make_customer(
        acme,
        1,
        first_name="Priya",
        last_name="Sharma",
        phones=("+919876500001",),
        tags=["vip"],
        orders_count=2,
        total_spent=Decimal("3198.00"),
    )
    make_order(priya, 1041, days=1)
    make_order(priya, 1042, days=5, financial_status="pending", fulfillment_status="")
    now = timezone.now()
    calls = {
        "known": CallFactory(client=acme, from_number="+919876500001", started_at=now - timedelta(hours=1)),
        "order": CallFactory(
            client=acme,
            from_number="+919811111111",
            started_at=now - timedelta(hours=2),
            metadata={"custom_field": "order-1042"},
        ),
        "unknown": CallFactory(client=acme, from_number="+919822222222", started_at=now - timedelta(hours=3)),
    }
    for call in calls.values():
        linking.call_link(call=call)
    return {"priya": priya, **calls}


def test_an_agent_sees_the_callers_customer_and_follows_it(open_page, shop):  # noqa: F811
    page = open_page(DESKTOP)
    sign_in(page)

    page.goto(f"/calls/{shop['known'].public_id}/")
    card = page.locator("#customer")
    expect(card).to_have_attribute("data-customer-state", "phone")
    expect(card.get_by_role("link", name="Priya Sharma")).to_be_visible()
    expect(card).to_contain_text("INR 3,198.00 · 2 orders")
    order = card.get_by_role("link", name="#1042 in Shopify (opens a new tab)")
    expect(order).to_have_attribute("href", "https://acme-apparel.myshopify.com/admin/orders/901042")
    expect(card).to_contain_text("Pending")

    card.get_by_role("link", name="Priya Sharma").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Priya Sharma")
    expect(page.locator("table.customer-calls-table tbody tr")).to_have_count(2)  # her number, and her order
    page.get_by_role("link", name="All of Priya Sharma's calls in the calls list").click()
    expect(page.locator("tr[data-call]")).to_have_count(2)
    expect(page.locator("[data-customer-filter]")).to_contain_text("Calls with Priya Sharma")
    assert page.csp_errors() == []


def test_an_order_match_and_an_unknown_number(open_page, shop):  # noqa: F811
    page = open_page(DESKTOP)
    sign_in(page)

    page.goto(f"/calls/{shop['order'].public_id}/")
    card = page.locator("#customer")
    expect(card).to_have_attribute("data-customer-state", "order")
    expect(card).to_contain_text("Order #1042 was named on this call")
    expect(card.get_by_role("link", name="Priya Sharma")).to_be_visible()

    page.goto(f"/calls/{shop['unknown'].public_id}/")
    expect(page.locator("#customer")).to_contain_text("No Shopify customer has this number")

    page.goto("/customers/?q=98765+00001")
    expect(page.locator("tr[data-customer]")).to_have_count(1)
    assert page.csp_errors() == []


def test_the_customer_pages_fit_a_phone(open_page, shop):  # noqa: F811
    page = open_page(MOBILE)
    sign_in(page)

    for path in (f"/calls/{shop['known'].public_id}/", "/customers/", f"/customers/{shop['priya'].public_id}/"):
        page.goto(path)
        expect(page.locator("main")).to_be_visible()
        assert not has_horizontal_scroll(page), path
