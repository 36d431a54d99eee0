"""Disconnecting Exotel in a real browser: the owner sees "Connected, checked …", follows Disconnect to a
confirmation page that says what stops, cancels once, confirms, and finds the same callback URLs waiting
for the credentials; connecting again (against the fake Exotel) makes it "Connected" with those URLs.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's live server,
like tests/test_browser_recordings.py.
"""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from integrations.models import ExotelConnection
from tests.exotel_fake import ACCOUNT_SID, API_KEY, API_TOKEN, exotel_fixture  # noqa: F401
from tests.factories import ClientFactory, UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401
from tests.test_browser_recordings import DESKTOP, open_page, sign_in  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def connected(transactional_db, exotel):
    acme = ClientFactory(name="Acme Apparel", slug="acme-apparel")
    UserFactory(email="owner@acme.example", client=acme, role=Role.OWNER)
    return ExotelConnection.objects.create(
        client=acme,
        account_sid=ACCOUNT_SID,
        api_key=API_KEY,
        api_token=API_TOKEN,
        api_host=exotel.host,
        verified_at=timezone.now(),
        checked_at=timezone.now(),
        check_status="ok",
        check_message="Exotel accepted the credentials.",
    )


def test_an_owner_disconnects_exotel_after_a_confirmation_and_connects_it_again(open_page, connected, exotel):  # noqa: F811
    page = open_page(DESKTOP)
    sign_in(page, "owner@acme.example")
    page.goto("/integrations/")
    exotel_card = page.locator('section[data-integration="exotel"]')
    expect(exotel_card.locator("h2 .badge")).to_contain_text(re.compile(r"^Connected, checked \d+ \w+, \d\d:\d\d$"))
    status_url = page.locator("#status-callback-url").input_value()

    exotel_card.get_by_role("link", name="Disconnect Exotel…").click()
    expect(page).to_have_url(re.compile("/integrations/exotel/disconnect/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Disconnect Exotel?")
    expect(page.locator("ul.consequences li").first).to_contain_text("New calls are no longer received")
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile("/integrations/$"))
    assert ExotelConnection.objects.get().state == "verified"

    exotel_card.get_by_role("link", name="Disconnect Exotel…").click()
    page.get_by_role("button", name="Disconnect Exotel").click()

    expect(page).to_have_url(re.compile("/integrations/$"))
    expect(page.get_by_role("status")).to_contain_text("Exotel is disconnected.")
    expect(exotel_card.locator("h2 .badge")).to_have_text("Disconnected")
    expect(page.locator("#status-callback-url")).to_have_value(status_url)
    expect(exotel_card.get_by_role("button", name="Test connection")).to_have_count(0)

    page.get_by_label("API key", exact=True).fill(API_KEY)
    page.get_by_label("API token", exact=True).fill(API_TOKEN)
    page.get_by_role("button", name="Connect Exotel").click()

    expect(page.get_by_role("status")).to_contain_text("Exotel is connected: Exotel accepted the credentials.")
    expect(exotel_card.locator("h2 .badge")).to_contain_text("Connected, checked")
    expect(page.locator("#status-callback-url")).to_have_value(status_url)
    assert page.csp_errors() == []
