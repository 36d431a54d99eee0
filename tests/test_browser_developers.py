"""The Developers page in a real browser: an owner creates an API key, copies it from the page, sees it
once (a reload no longer shows it), uses it, and revokes it after confirming."""

import re

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.roles import Role
from tests.factories import PASSWORD, ClientFactory, UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def page(browser, live_server, transactional_db):  # noqa: F811
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        base_url=live_server.url,
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda msg: page.csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    context.close()


def test_it_creates_a_key_shown_once_then_revokes_it(page):
    client = ClientFactory(name="Acme Apparel", slug="acme-apparel")
    owner = UserFactory(email="owner@acme.example", client=client, role=Role.OWNER)

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Developers").click()
    expect(page.get_by_role("heading", name="Developers", level=1)).to_be_visible()
    expect(page.get_by_text("No API keys yet.")).to_be_visible()

    page.get_by_label("Name").fill("Warehouse sync")
    page.get_by_label("Access").select_option("read_play")
    page.get_by_role("button", name="Create key").click()

    shown = page.get_by_label("Your new API key")
    expect(shown).to_have_value(re.compile(r"^caly_live_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$"))
    raw = shown.input_value()
    key = ApiKey.objects.get()
    assert raw.startswith(f"caly_live_{key.prefix}_") and len(raw) > 50
    row = page.locator(f"tr[data-api-key='{key.prefix}']")
    expect(row).to_contain_text("Read and play recordings")
    expect(row).to_contain_text("Never")
    page.get_by_role("button", name="Copy the API key").click()
    expect(page.locator("button[data-copy='new-api-key']")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == raw

    page.reload()
    expect(page.get_by_text("Copy your new key now")).to_have_count(0)
    assert raw not in page.content()
    expect(row).to_contain_text(f"caly_live_{key.prefix}_…")

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/calls").status_code == 200

    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("Active")  # dismissed: nothing sent
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("is revoked")).to_be_visible()
    expect(row).to_contain_text("Revoked")
    assert api.get("/api/v1/calls").status_code == 401
    assert page.csp_errors == []


def test_the_api_reference_shows_how_to_use_a_key_and_the_error_codes(page):
    # Swagger UI's bundle and the whole schema: slower than a page of the site.
    page.goto("/api/docs/", wait_until="domcontentloaded", timeout=60_000)
    expect(page.get_by_role("heading", name="Errors", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_role("cell", name="RATE_LIMITED", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="TOKEN_EXPIRED", exact=True)).to_be_visible()
    expect(page.get_by_text("Authorization: Bearer caly_live_<prefix>_<secret>").first).to_be_visible()
    expect(page.get_by_text("def verify_caly_webhook").first).to_be_attached()
    assert page.csp_errors == []
