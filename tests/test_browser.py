"""The site in a real browser: layout, error pages, the dashboard's async parts, error reporting and the CSP.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's
live server. Nothing is written into the repository (no screenshots, no traces).
"""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, CallFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)

DESKTOP = {"width": 1440, "height": 900}
MOBILE = {"width": 375, "height": 812}
CLIENT_ERRORS_PATH = "/api/v1/client-errors/"


# --- fixtures -------------------------------------------------------------------------------------


class Watched:
    """A page with what the browser said about it: CSP violations, console errors, uncaught errors."""

    def __init__(self, page):
        self.page = page
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        # securitypolicyviolation events name the directive and the blocked resource precisely.
        # Init scripts are injected by the browser itself, so the page's own CSP does not block them.
        page.add_init_script(
            """
            window.__cspViolations = [];
            document.addEventListener("securitypolicyviolation", (e) => {
              window.__cspViolations.push(
                `${e.effectiveDirective} blocked ${e.blockedURI || "(inline)"} at ${e.sourceFile}:${e.lineNumber}`
                + (e.sample ? ` sample: ${e.sample}` : "")
              );
            });
            """
        )

    @property
    def csp_console_errors(self) -> list[str]:
        return [text for text in self.console_errors if "Content Security Policy" in text]

    def csp_violations(self) -> list[str]:
        """Console CSP errors plus the page's securitypolicyviolation events (empty if none)."""
        events = self.page.evaluate("window.__cspViolations || []")
        return self.csp_console_errors + events


@pytest.fixture
def open_page(browser, live_server, transactional_db):  # noqa: F811
    """open_page(viewport=DESKTOP) -> Watched: a page in a fresh context, with short timeouts."""
    contexts = []

    def _open(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return Watched(context.new_page())

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def member_page(open_page, alice):
    """open_page() signed in as a client's owner, on the dashboard with its three async parts (the client has
    a call: a client without one sees the steps to its first call instead)."""
    CallFactory(client=alice.client)

    def _open(viewport=DESKTOP):
        watched = open_page(viewport)
        page = watched.page
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(alice.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile("/dashboard/$"))
        return watched

    return _open


def today_part(page):
    """The range's figures (the dashboard opens on the last 7 days)."""
    return page.locator('[data-async-src$="/dashboard/parts/figures?range=7d"]')


def expect_part_loaded(part):
    expect(part).to_have_attribute("data-async-state", "loaded")
    expect(part).to_have_attribute("aria-busy", "false")
    expect(part.get_by_text("Calls", exact=True)).to_be_visible()


def has_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


# --- 1. layout ------------------------------------------------------------------------------------


def test_it_opens_the_home_page_on_a_desktop(open_page):
    page = open_page(DESKTOP).page
    response = page.goto("/")

    assert response.status == 200
    expect(page).to_have_title(re.compile("Caly"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_visible()
    for name in ("Home", "API docs", "Sign in"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.locator(".nav-toggle-label")).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert not has_horizontal_scroll(page)

    # The keyboard goes from the skip link to the brand: the phone menu's hidden toggle is no tab stop.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Caly")).to_be_focused()


def test_the_home_page_tells_a_prospect_what_caly_does(open_page):
    watched = open_page()
    page = watched.page
    page.goto("/")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Every customer call")
    main = page.locator("main")
    expect(main.get_by_role("link", name=re.compile("^Sign up"))).to_have_attribute("href", "/accounts/signup/")
    expect(main.get_by_role("link", name="Sign in")).to_have_attribute("href", "/accounts/login/")
    picture = main.get_by_role("img", name=re.compile("calls page"))
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(main.get_by_role("heading", level=2)).to_have_count(6)
    # Prospects see the product, not the service's internals (those stay at /health/).
    for internal in ("Database", "Cache", "Migrations"):
        expect(main.get_by_text(internal)).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert watched.csp_violations() == [] and watched.page_errors == []


def test_it_collapses_the_nav_to_a_toggle_on_a_phone(open_page):
    page = open_page(MOBILE).page
    page.goto("/")

    expect(page).to_have_title(re.compile("Caly"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Caly")).to_be_visible()  # the brand stays
    toggle = page.locator(".nav-toggle-label")
    links = page.locator(".nav-links")
    expect(toggle).to_be_visible()
    expect(links).to_be_hidden()
    assert not has_horizontal_scroll(page)

    # From the keyboard: the skip link, the brand, then the menu's toggle, which Space opens and closes.
    for _ in range(3):
        page.keyboard.press("Tab")
    expect(page.get_by_role("checkbox", name="Show menu")).to_be_focused()
    page.keyboard.press("Space")
    expect(links).to_be_visible()
    page.keyboard.press("Space")
    expect(links).to_be_hidden()

    toggle.click()
    expect(links).to_be_visible()
    expect(nav.get_by_role("link", name="API docs")).to_be_visible()
    assert not has_horizontal_scroll(page)

    toggle.click()
    expect(links).to_be_hidden()


# --- 2. 404 ---------------------------------------------------------------------------------------


def test_it_shows_the_custom_404_page_with_the_request_id(open_page, live_server):
    page = open_page().page
    response = page.goto("/no/such/page-here")

    assert response.status == 404
    request_id = response.headers["x-request-id"]
    assert request_id
    expect(page).to_have_title(re.compile("Page not found"))
    expect(page.locator("header.site-header")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("We couldn't find that page")
    home = page.get_by_role("link", name="Go to the home page")
    expect(home).to_be_visible()
    expect(home).to_have_attribute("href", "/")
    expect(page.locator("[data-request-id]")).to_have_text(request_id)

    home.click()
    expect(page).to_have_url(f"{live_server.url}/")


def test_it_keeps_an_inbound_request_id_on_the_404_page(open_page):
    page = open_page().page
    page.set_extra_http_headers({"X-Request-ID": "support-ticket-12345"})
    response = page.goto("/missing")

    assert response.status == 404
    assert response.headers["x-request-id"] == "support-ticket-12345"
    expect(page.locator("[data-request-id]")).to_have_text("support-ticket-12345")


# --- 3 & 4. the dashboard's async parts --------------------------------------------------------


def test_it_loads_the_dashboard_parts_after_the_page(member_page):
    watched = member_page()
    page = watched.page
    with page.expect_response(lambda r: r.url.endswith("/dashboard/parts/figures?range=7d")) as part_response:
        page.reload()

    assert part_response.value.status == 200
    expect_part_loaded(today_part(page))
    for part in page.locator("[data-async-src]").all():
        expect(part).to_have_attribute("data-async-state", "loaded")
    expect(page.get_by_role("alert")).to_have_count(0)
    assert watched.page_errors == []


@pytest.mark.parametrize("failure", ["http-500", "network-abort"])
def test_it_shows_an_inline_error_and_retries_the_async_part(member_page, failure):
    watched = member_page()
    page = watched.page
    calls = []

    def first_call_fails(route):
        calls.append(route.request.url)
        if len(calls) > 1:
            route.continue_()
        elif failure == "http-500":
            route.fulfill(status=500, body="boom", headers={"X-Request-ID": "req-failed-panel-1"})
        else:
            route.abort("failed")

    page.route("**/dashboard/parts/figures?range=7d", first_call_fails)
    page.reload()

    panel = today_part(page)
    expect(panel).to_have_attribute("data-async-state", "error")
    alert = panel.get_by_role("alert")
    expect(alert).to_contain_text("Couldn't load the figures")
    if failure == "http-500":
        expect(alert).to_contain_text("error 500, request id req-failed-panel-1")
    else:
        expect(alert).to_contain_text("network error")
    retry = alert.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()

    # Only that part failed: the rest of the page is there and reacts.
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    skip_link = page.get_by_role("link", name="Skip to content")
    page.keyboard.press("Tab")  # the skip link is off-screen until it has the keyboard focus
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))
    nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="API docs")
    nav_link.click(trial=True)  # visible, enabled and not covered: a real click would land on it

    retry.click()
    expect_part_loaded(panel)
    expect(panel.get_by_role("alert")).to_have_count(0)
    assert len(calls) == 2
    # A handled failure is not an uncaught error: nothing for the error reporter.
    assert watched.page_errors == []

    nav_link.click()
    expect(page).to_have_url(re.compile("/api/docs/$"))


# --- 5. browser error reports ---------------------------------------------------------------------


def is_client_error_report(response):
    return response.url.endswith(CLIENT_ERRORS_PATH) and response.request.method == "POST"


def test_it_reports_an_uncaught_error(open_page):
    watched = open_page()
    page = watched.page
    page.goto("/")

    with page.expect_response(is_client_error_report) as report:
        page.evaluate("setTimeout(() => { throw new Error('boom from test') }, 0)")

    response = report.value
    assert response.status == 202
    assert response.json()["data"] == {"received": True}
    posted = response.request.post_data_json
    assert posted["kind"] == "error"
    assert "boom from test" in posted["message"]
    assert "boom from test" in posted["stack"]
    assert posted["page_url"] == page.url
    assert any("boom from test" in error for error in watched.page_errors)


def test_it_reports_an_unhandled_promise_rejection(open_page):
    page = open_page().page
    page.goto("/")

    with page.expect_response(is_client_error_report) as report:
        # A function returning nothing: evaluating the bare promise would let Playwright handle it.
        page.evaluate("() => { Promise.reject(new Error('rejected in test')); }")

    response = report.value
    assert response.status == 202
    posted = response.request.post_data_json
    assert posted["kind"] == "unhandledrejection"
    assert posted["message"] == "rejected in test"
    assert posted["page_url"] == page.url


# --- 6 & 7. Content Security Policy ---------------------------------------------------------------


def test_it_has_no_csp_violations_on_the_home_and_404_pages(open_page):
    watched = open_page()
    page = watched.page

    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    assert watched.csp_violations() == []

    response = page.goto("/no-such-page")
    assert response.status == 404
    assert "content-security-policy" in response.headers
    expect(page.locator("[data-request-id]")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert watched.csp_violations() == []

    # The watcher does see a violation when there is one (so the empty lists above mean something).
    with page.expect_console_message(lambda msg: "Content Security Policy" in msg.text):
        page.evaluate("() => { const img = new Image(); img.src = 'https://csp-canary.invalid/x.png'; }")
    assert any("csp-canary.invalid" in violation for violation in watched.csp_violations())


def test_it_renders_swagger_ui_under_the_csp(open_page):
    watched = open_page()
    page = watched.page
    response = page.goto("/api/docs/")

    assert response.status == 200
    assert "content-security-policy" in response.headers
    expect(page).to_have_title(re.compile("Caly API"))
    expect(page.locator(".swagger-ui").first).to_be_visible()
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Caly API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()  # the schema's operations
    page.wait_for_load_state("networkidle")
    assert watched.csp_violations() == []
    assert watched.page_errors == []


# --- Redoc -----------------------------------------------------------------------------------------

MINIMAL_SCHEMA = {"openapi": "3.0.3", "info": {"title": "Caly API", "version": "1.0.0"}, "paths": {}}


def test_it_renders_redoc_on_every_load(open_page):
    watched = open_page()
    page = watched.page
    for _ in range(2):  # the schema is generated afresh for each load
        page.goto("/api/redoc/")
        heading = page.get_by_role("heading", level=1).first  # the API's title, or Redoc's error
        expect(heading).to_be_visible()
        assert "Caly API" in heading.inner_text(), page.locator("body").inner_text()[:300]
        expect(page.locator(".api-content")).to_be_visible()


def test_it_renders_redoc_without_csp_violations(open_page, live_server):
    watched = open_page()
    page = watched.page
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    # A fixed, minimal schema: this test is about the page under the CSP, not the schema's contents.
    page.route("**/api/schema/**", lambda route: route.fulfill(json=MINIMAL_SCHEMA))
    response = page.goto("/api/redoc/")

    assert "worker-src blob:" in response.headers["content-security-policy"]
    expect(page.get_by_role("heading", level=1)).to_contain_text("Caly API")
    page.wait_for_load_state("networkidle")
    assert watched.page_errors == []
    # Nothing was blocked: not even Redocly's logo, which Redoc would fetch from its CDN.
    assert watched.csp_violations() == []
    assert not [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))], requested
