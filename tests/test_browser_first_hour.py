"""A newcomer's first hour in a real browser: every demo login `seed_demo` prints lands where it should,
the products table reads cleanly on a laptop, and the API answers its envelope even under DEBUG.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's live
server, like tests/test_browser.py.
"""

import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401
from tests.test_browser_accounts import open_page  # noqa: F401

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)

LAPTOP = {"width": 1280, "height": 800}
LOGIN_LINE = re.compile(r"^  (\w+): +(\S+) +password: (\S+) +sign in at (\S+)$")


@pytest.fixture
def demo_logins(settings, live_server, transactional_db) -> dict[str, tuple[str, str, str]]:
    """seed_demo as `make run` runs it (fewer calls), read from what it prints: {role: (email, password, path)}."""
    settings.DEBUG = True  # seed_demo runs only with DEBUG on
    settings.SITE_URL = live_server.url
    out = io.StringIO()
    call_command("seed_demo", "--calls", "30", "--products", "6", "--no-audio", stdout=out)
    settings.DEBUG = False
    logins = {}
    for line in out.getvalue().splitlines():
        if match := LOGIN_LINE.match(line):
            label, email, password, url = match.groups()
            assert url.startswith(live_server.url), url
            logins[label] = (email, password, url.removeprefix(live_server.url))
    assert list(logins) == ["staff", "owner", "admin", "agent", "viewer"], out.getvalue()
    return logins


def sign_in(page, path: str, email: str, password: str) -> None:
    page.goto(path)
    if path.startswith("/admin/"):
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
    else:
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()


def test_every_demo_login_lands_where_its_role_works(open_page, demo_logins):  # noqa: F811
    email, password, path = demo_logins["staff"]
    page = open_page(LAPTOP)
    sign_in(page, path, email, password)
    expect(page).to_have_url(re.compile("/admin/$"))
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    for role, sees_team in (("owner", True), ("admin", True), ("agent", False), ("viewer", False)):
        email, password, path = demo_logins[role]
        page = open_page(LAPTOP)
        sign_in(page, path, email, password)
        expect(page).to_have_url(re.compile("/dashboard/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_text("Demo Store")).to_be_visible()
        expect(nav.get_by_role("link", name="Team")).to_have_count(1 if sees_team else 0)
        expect(page.locator('[data-async-src*="/dashboard/parts/figures"]')).to_have_attribute(
            "data-async-state", "loaded"
        )


def test_the_products_table_keeps_statuses_and_prices_on_one_line_on_a_laptop(open_page, demo_logins):  # noqa: F811
    email, password, path = demo_logins["owner"]
    page = open_page(LAPTOP)
    sign_in(page, path, email, password)
    page.goto("/products/")

    cells = page.locator(".products-table td .badge, .products-table td.numeric")
    expect(cells.first).to_be_visible()
    lines = cells.evaluate_all(
        """cells => cells.map(cell => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            return [cell.textContent.trim(), new Set([...range.getClientRects()].map(r => Math.round(r.top))).size];
        })"""
    )
    assert lines and all(count == 1 for _, count in lines), [text for text, count in lines if count != 1]


def test_the_api_answers_its_envelope_for_an_unknown_path_under_debug(open_page, settings):  # noqa: F811
    settings.DEBUG = True
    page = open_page(LAPTOP)

    for path in ("/api/v1/no-such-thing", "/api/v1/calls/not-a-uuid"):
        response = page.goto(path)
        assert response.status == 404
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["success"] is False and body["error"]["code"] == "NOT_FOUND"
