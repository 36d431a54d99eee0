"""The set-up wizard in a real browser: a company signs up, confirms its address, signs in, goes through
the wizard (company details, Exotel skipped, Shopify refused twice then skipped) and finds what is
left on the dashboard. Shopify is the fake one on 127.0.0.1 (tests/shopify_fake.py).

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's
live server, like tests/test_browser_accounts.py. E-mails land in django.core.mail.outbox.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Client, OnboardingStep
from integrations.models import ExotelConnection, ShopifyConnection
from tests import shopify_fake
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)

DESKTOP = {"width": 1440, "height": 900}
OWNER_PASSWORD = "a-strong-pass-phrase-9"


@pytest.fixture
def open_page(browser, live_server, transactional_db):  # noqa: F811
    """open_page(viewport) -> a page in a fresh context (its own cookies), with short timeouts.
    Each page records the CSP violations its console reports in `page.csp_errors`."""
    contexts = []

    def _open(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.csp_errors = []
        page.on(
            "console",
            lambda msg: page.csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        return page

    yield _open
    for context in contexts:
        context.close()


def emailed_path(kind: str) -> str:
    assert mail.outbox, "no e-mail was sent"
    match = re.search(rf"(/accounts/{kind}/[^/\s]+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


@pytest.fixture
def shopify(settings):
    with shopify_fake.serve(settings) as fake:
        yield fake


def test_a_new_owner_sets_up_the_company_skips_the_connections_and_sees_what_is_left(open_page, shopify):
    page = open_page()
    # Sign up, confirm the address, sign in: the wizard opens at its first step.
    page.goto("/accounts/signup/")
    page.get_by_label("Company name").fill("Chai Point")
    page.get_by_label("Work email").fill("asha@chaipoint.example")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    page.goto(emailed_path("verify"))
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page).to_have_url(re.compile("/accounts/login/$"))
    page.get_by_label("Email").fill("asha@chaipoint.example")
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # 1. Company details.
    expect(page).to_have_url(re.compile("/accounts/onboarding/company/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up Chai Point")
    steps = page.get_by_role("navigation", name="Set-up steps")
    expect(steps.locator('[aria-current="step"]')).to_have_text("Company details")
    expect(page.get_by_label("Company name")).to_have_value("Chai Point")
    page.get_by_label("Company name").fill("Chai Point Retail")
    page.get_by_label("Time zone").select_option("Asia/Kolkata")
    page.get_by_role("button", name="Save and continue").click()

    # 2. Exotel, skipped.
    expect(page).to_have_url(re.compile("/accounts/onboarding/exotel/$"))
    expect(page.get_by_role("status")).to_contain_text("Company details saved.")
    expect(steps.locator('[data-step="company"]')).to_contain_text("Done")
    page.get_by_role("button", name="Skip for now").click()

    # 3. Shopify: a refused form first, then skipped.
    expect(page).to_have_url(re.compile("/accounts/onboarding/shopify/$"))
    expect(steps.locator('[data-step="exotel"]')).to_contain_text("Skipped")
    page.get_by_label("Admin API access token").fill("shpat_0123456789abcdef")
    page.get_by_role("button", name="Connect Shopify").click()
    shop = page.locator(".field").filter(has=page.get_by_label("Shop domain"))
    expect(shop.locator(".field-errors")).to_have_text("This field is required.")
    expect(page.get_by_label("Shop domain")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Shop domain").fill("chai-point.myshopify.com")
    page.get_by_label("Admin API access token").fill("shpat_a_token_shopify_refuses")
    page.get_by_role("button", name="Connect Shopify").click()
    token = page.locator(".field").filter(has=page.get_by_label("Admin API access token"))
    expect(token.locator(".field-errors")).to_have_text("Shopify refused the access token.")
    page.get_by_role("button", name="Skip for now").click()

    # Done: what is left, then the dashboard's card.
    expect(page).to_have_url(re.compile("/accounts/onboarding/done/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Chai Point Retail: the set-up wizard is finished")
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page).to_have_url(re.compile("/dashboard/$"))
    card = page.locator("section.onboarding-card")
    expect(card.get_by_role("heading")).to_have_text("Finish setting up")
    expect(card.locator('[data-left="exotel"]')).to_have_text("Exotel not connected — connect")
    expect(card.locator('[data-left="shopify"]')).to_have_text("Shopify not connected — connect")
    card.locator('[data-left="exotel"]').get_by_role("link", name="connect").click()
    expect(page).to_have_url(re.compile("/accounts/onboarding/exotel/$"))

    client = Client.objects.get()
    assert (client.name, client.timezone) == ("Chai Point Retail", "Asia/Kolkata")
    assert client.onboarding_step == OnboardingStep.DONE and client.onboarding_completed_at is not None
    assert not ExotelConnection.objects.exists() and not ShopifyConnection.objects.exists()
    assert page.csp_errors == []
