"""The account pages in a real browser: a company signs up, confirms its address, invites a member
who joins from another browser; and the forms fit a phone.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's
live server, like tests/test_browser.py. E-mails land in django.core.mail.outbox (locmem backend,
tasks run immediately in the test settings). Nothing is written into the repository.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import User
from accounts.roles import Role
from tests.factories import PASSWORD, UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)

DESKTOP = {"width": 1440, "height": 900}
MOBILE = {"width": 375, "height": 812}
OWNER_PASSWORD = "a-strong-pass-phrase-9"
MEMBER_PASSWORD = "another-long-pass-phrase-7"


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
    """The path of the newest /accounts/<kind>/<token>/ link in the outbox (the host is SITE_URL's)."""
    assert mail.outbox, "no e-mail was sent"
    match = re.search(rf"(/accounts/{kind}/[^/\s]+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def has_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def test_it_signs_up_invites_a_member_and_the_member_joins(open_page):
    owner = open_page()
    owner.goto("/")
    owner.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()

    # Sign up: the verification link arrives by e-mail.
    owner.get_by_label("Company name").fill("Chai Point")
    owner.get_by_label("First name").fill("Asha")
    owner.get_by_label("Last name").fill("Rao")
    owner.get_by_label("Work email").fill("asha@chaipoint.example")
    owner.get_by_label("Password").fill(OWNER_PASSWORD)
    owner.get_by_role("button", name="Create account").click()
    expect(owner.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(owner.get_by_text("asha@chaipoint.example")).to_be_visible()
    assert mail.outbox[-1].to == ["asha@chaipoint.example"]

    owner.goto(emailed_path("verify"))
    owner.get_by_role("button", name="Confirm my email address").click()
    expect(owner).to_have_url(re.compile("/accounts/login/$"))
    expect(owner.get_by_role("status")).to_contain_text("Your email address is verified")

    # Sign in and invite a viewer.
    owner.get_by_label("Email").fill("asha@chaipoint.example")
    owner.get_by_label("Password").fill(OWNER_PASSWORD)
    owner.get_by_role("button", name="Sign in").click()
    nav = owner.get_by_role("navigation", name="Main")
    expect(nav).to_contain_text("Chai Point")
    nav.get_by_role("link", name="Team").click()
    expect(owner.get_by_role("heading", level=1)).to_have_text("Team")
    owner.get_by_label("Email").fill("dana@example.com")
    owner.get_by_label("Role", exact=True).select_option(label="Viewer")
    owner.get_by_role("button", name="Send invitation").click()
    expect(owner.get_by_role("status")).to_contain_text("Invitation sent to dana@example.com.")
    expect(owner.locator('tr[data-invitation="dana@example.com"]')).to_contain_text("Pending")

    # The invited member joins from another browser and is signed in there.
    member = open_page()
    member.goto(emailed_path("invitations"))
    expect(member.get_by_role("heading", level=1)).to_have_text("Join Chai Point on Caly")
    facts = member.locator("dl.facts")
    for fact in ("Chai Point", "Viewer", "dana@example.com"):
        expect(facts).to_contain_text(fact)
    member.get_by_label("First name").fill("Dana")
    member.get_by_label("Last name").fill("Iyer")
    member.get_by_label("New password", exact=True).fill(MEMBER_PASSWORD)
    member.get_by_label("New password again").fill(MEMBER_PASSWORD)
    member.get_by_role("button", name="Join Chai Point").click()
    expect(member).to_have_url(re.compile("/$"))
    expect(member.get_by_role("status")).to_contain_text("Welcome to Chai Point, Dana!")
    member_nav = member.get_by_role("navigation", name="Main")
    expect(member_nav).to_contain_text("Chai Point")
    expect(member_nav.get_by_role("link", name="Profile")).to_be_visible()
    expect(member_nav.get_by_role("link", name="Team")).to_have_count(0)

    response = member.goto("/accounts/team/")
    assert response.status == 403
    expect(member.get_by_role("heading", level=1)).to_have_text("You don't have access to this page")

    # The owner's team page now lists the member.
    owner.reload()
    row = owner.locator('tr[data-member="dana@example.com"]')
    expect(row).to_contain_text("Dana Iyer")
    expect(row.get_by_role("combobox")).to_have_value(Role.VIEWER)
    expect(row).to_contain_text("Active")
    expect(owner.locator('tr[data-invitation="dana@example.com"]')).to_contain_text("Accepted")
    assert User.objects.get(email="dana@example.com").client.name == "Chai Point"
    assert owner.csp_errors == [] and member.csp_errors == []


def test_it_fits_the_signup_and_team_pages_on_a_phone(open_page):
    UserFactory(email="owner@acme.example", client__name="Acme Apparel", client__slug="acme", role=Role.OWNER)
    page = open_page(MOBILE)

    page.goto("/accounts/signup/")
    expect(page.get_by_label("Company name")).to_be_visible()
    assert not has_horizontal_scroll(page)
    page.get_by_role("button", name="Create account").click()  # errors and help texts shown: still fits
    expect(page.locator(".field-errors").first).to_be_visible()
    assert not has_horizontal_scroll(page)

    page.goto("/accounts/login/?next=/accounts/team/")
    page.get_by_label("Email").fill("owner@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team")
    expect(page.locator('tr[data-member="owner@acme.example"]')).to_be_visible()
    assert not has_horizontal_scroll(page)
    assert page.csp_errors == []
