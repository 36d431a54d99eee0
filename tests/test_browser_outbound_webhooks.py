"""An owner adds a webhook endpoint in a real browser: its secret shows once, a test event reaches the
receiver on 127.0.0.1 signed with that secret, and the delivery log says so; no CSP rule is broken.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's live server,
like tests/test_browser_recordings.py.
"""

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook

from accounts.roles import Role
from integrations.outbound.models import WebhookEndpoint
from tests.factories import ClientFactory, UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401
from tests.test_browser_recordings import MOBILE, has_horizontal_scroll, open_page, sign_in  # noqa: F401
from tests.webhook_receiver import receiver_fixture  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def owner(transactional_db):
    acme = ClientFactory(name="Acme Apparel", slug="acme-apparel")
    return UserFactory(email="owner@acme.example", client=acme, role=Role.OWNER)


def test_an_owner_adds_an_endpoint_sees_its_secret_once_and_sends_a_test_event(open_page, owner, receiver):  # noqa: F811
    page = open_page()
    sign_in(page, owner.email)
    page.goto("/developers/webhooks/")
    page.get_by_label("URL").fill(receiver.url())
    page.get_by_label("Description").fill("Our CRM")
    page.get_by_role("button", name="Add endpoint").click()

    secret = page.locator("#webhook-secret-value")
    expect(secret).to_have_value(WebhookEndpoint.objects.get().secret)
    shown = secret.input_value()
    assert shown.startswith("whsec_")
    page.goto("/developers/webhooks/")
    expect(page.locator("#webhook-secret-value")).to_have_count(0)  # shown once
    expect(page.locator("tr[data-endpoint]")).to_contain_text("Our CRM")

    page.get_by_role("button", name="Send test event").click()
    expect(page.locator(".messages")).to_contain_text("A test event is on its way")
    expect(page.locator("tr[data-delivery]")).to_contain_text("webhook.test")
    expect(page.locator("tr[data-delivery]")).to_contain_text("Delivered")
    [received] = receiver.received
    assert Webhook(shown).verify(received.body, received.headers)["type"] == "webhook.test"
    assert page.csp_errors() == []

    phone = open_page(MOBILE)
    sign_in(phone, owner.email)
    phone.goto("/developers/webhooks/")
    expect(phone.locator("tr[data-endpoint]")).to_have_count(1)
    assert not has_horizontal_scroll(phone)
