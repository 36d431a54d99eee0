"""Staff two-factor sign-in in a real browser: enrol an authenticator from the enrolment page, sign in
again with a code from it, and have a wrong code refused.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's live
server, like tests/test_browser_accounts.py. The "authenticator" is django-otp's TOTP fed the key the
page shows, as an app would be.
"""

import base64

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, StaffFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401
from tests.staff_two_factor import totp_code

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture
def page(browser, live_server, transactional_db, settings):  # noqa: F811
    settings.STAFF_REQUIRE_2FA = True
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda msg: page.csp_errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    context.close()


def sign_in_with_password(page, email: str) -> None:
    page.goto("/admin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_it_enrols_signs_in_with_a_code_and_refuses_a_wrong_one(page):
    staff = StaffFactory(email="ops@caly.example", is_superuser=True)

    # The password leads to enrolment, not to the admin.
    sign_in_with_password(page, staff.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    assert page.evaluate("document.getElementById('two-factor-qr').naturalWidth") > 0  # the QR code renders
    secret = page.locator("#two-factor-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))

    page.get_by_label("Code from the app").fill(totp_code(key))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Site administration")

    # Signed out and back in: the password, then the code page.
    page.get_by_role("button", name="Log out").click()
    sign_in_with_password(page, staff.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")

    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not right.")
    page.goto("/admin/accounts/user/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")

    page.wait_for_timeout(1500)  # django-otp holds back the next guess for a second after a wrong one
    page.get_by_label("Code").fill(totp_code(key, steps_ahead=1))  # the enrolment code's step is spent
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Select user to change")
    assert page.csp_errors == []
