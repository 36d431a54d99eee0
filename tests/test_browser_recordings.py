"""The calls pages in a real browser: an agent signs in, watches the dashboard load, filters the
calls, plays a recording (the player seeks with Range requests) and pages back to the oldest call;
and the pages fit a phone.

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API against pytest-django's
live server, like tests/test_browser.py. Recordings are written under tmp_path, nothing into the
repository.
"""

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import Role
from recordings.models import Recording
from tests.factories import PASSWORD, ClientFactory, UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401
from tests.s3 import local_storage  # noqa: F401
from tests.test_recordings_pages import make_call, store_recording, wav_bytes

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)

DESKTOP = {"width": 1440, "height": 900}
MOBILE = {"width": 375, "height": 812}
PAGE_SIZE = 3
# Long enough (1.9 MB) that Chromium, preloading metadata only, leaves its end unread until asked.
RECORDING_SECONDS = 120


@pytest.fixture
def open_page(browser, live_server, transactional_db):  # noqa: F811
    """open_page(viewport) -> a page in a fresh context, with short timeouts. `page.csp_errors()`
    lists the CSP violations its console reported and its securitypolicyviolation events."""
    contexts = []

    def _open(viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        console = []
        page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
        page.add_init_script(
            """
            window.__cspViolations = [];
            document.addEventListener("securitypolicyviolation", (e) => {
              window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "(inline)"}`);
            });
            """
        )
        page.csp_errors = lambda: console + page.evaluate("window.__cspViolations || []")
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def calls(settings, local_storage, transactional_db):  # noqa: F811
    """Client A: eight calls over the last days (four outbound, the newest of them recorded) and an
    agent; client B: two calls that must never show. Pages hold PAGE_SIZE calls; files go to tmp_path."""
    settings.API_PAGE_SIZE = PAGE_SIZE
    acme = ClientFactory(name="Acme Apparel", slug="acme-apparel")
    bolt = ClientFactory(name="Bolt Books", slug="bolt-books")
    UserFactory(email="agent@acme.example", client=acme, role=Role.AGENT)
    now = timezone.now().replace(microsecond=0)
    a = [
        make_call(acme, n, now - timedelta(hours=7 * n + 1), direction="outbound" if n % 2 else "inbound")
        for n in range(8)
    ]
    recording = store_recording(a[1], seconds=RECORDING_SECONDS)
    for n in range(2):
        make_call(bolt, 20 + n, now - timedelta(hours=7 * n + 2), direction="outbound")
    zone = zoneinfo.ZoneInfo(acme.timezone)
    today = timezone.localtime(now, zone).date()
    return {
        "newest_first": [str(call.public_id) for call in a],
        "outbound": [str(call.public_id) for call in a if call.direction == "outbound"],
        "recorded": a[1],
        "recording": recording,
        "today": sum(timezone.localtime(call.started_at, zone).date() == today for call in a),
    }


def sign_in(page, email="agent@acme.example"):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def listed(page) -> list[str]:
    return page.locator("tr[data-call]").evaluate_all("rows => rows.map(row => row.dataset.call)")


def has_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


def expect_parts_loaded(page):
    parts = page.locator("[data-async-src]")
    expect(parts).to_have_count(3)
    for index in range(3):
        expect(parts.nth(index)).to_have_attribute("data-async-state", "loaded")


def test_an_agent_finds_plays_and_pages_through_calls(open_page, calls):
    page = open_page()
    download_path = f"/api/v1/recordings/{calls['recording'].public_id}/download"
    responses = []
    page.on("response", lambda response: responses.append(response) if download_path in response.url else None)

    # Signing in lands on the dashboard; its three parts load.
    sign_in(page)
    expect(page).to_have_url(re.compile("/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect_parts_loaded(page)
    figure = page.locator("[data-figures] .figure").filter(has_text="Calls").locator("dd")
    expect(figure).to_have_text("8")  # the last 7 days
    expect(page.locator(".chart-svg g.chart-day")).to_have_count(7)
    # The range picker: today only.
    picker = page.get_by_role("navigation", name="Range")
    picker.get_by_role("link", name="Today").click()
    expect(page).to_have_url(re.compile(r"/dashboard/\?range=today$"))
    expect(picker.get_by_role("link", name="Today")).to_have_attribute("aria-current", "page")
    expect_parts_loaded(page)
    expect(figure).to_have_text(str(calls["today"]))
    expect(page.locator(".chart-svg g.chart-day")).to_have_count(1)
    # The agent, with their zeros, and the calls no member took.
    expect(page.locator('table.agents-table tr[data-agent]:not([data-agent="none"])')).to_have_count(1)
    expect(page.locator('table.agents-table tr[data-agent="none"]')).to_have_count(1 if calls["today"] else 0)

    # The calls, newest first, then only the outbound ones.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calls", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Calls")
    expect(page.locator("tr[data-call]")).to_have_count(PAGE_SIZE)
    assert listed(page) == calls["newest_first"][:PAGE_SIZE]
    page.get_by_label("Direction").select_option(label="Outbound")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"/calls/\?direction=outbound$"))
    expect(page.get_by_label("Direction")).to_have_value("outbound")
    assert listed(page) == calls["outbound"][:PAGE_SIZE]

    # Play the recorded call: the player loads the audio's metadata through the API, then seeks.
    row = page.locator(f'tr[data-call="{calls["recorded"].public_id}"]')
    row.get_by_role("link", name="Play").click()
    expect(page).to_have_url(re.compile(rf"/calls/{calls['recorded'].public_id}/#recording$"))
    audio = page.locator("audio.player")
    expect(audio).to_have_attribute("src", download_path)
    page.wait_for_function(
        "() => { const a = document.querySelector('audio.player'); return a.readyState >= 1 && a.duration > 0; }",
        timeout=TIMEOUT_MS,
    )
    assert audio.evaluate("a => a.duration") == pytest.approx(RECORDING_SECONDS, abs=0.1)
    for second in (1.5, RECORDING_SECONDS - 20):  # near the start, then far past what was read so far
        audio.evaluate(f"a => {{ a.currentTime = {second}; }}")
        page.wait_for_function(
            f"() => {{ const a = document.querySelector('audio.player'); "
            f"return !a.seeking && a.readyState >= 2 && Math.abs(a.currentTime - {second}) < 0.5; }}",
            timeout=TIMEOUT_MS,
        )
    size = len(wav_bytes(RECORDING_SECONDS))
    ranges = [(r.request.all_headers().get("range"), r.status, r.all_headers().get("content-range")) for r in responses]
    assert ranges[0] == ("bytes=0-", 206, f"bytes 0-{size - 1}/{size}"), ranges  # metadata: the start
    later = [(requested, status, header) for requested, status, header in ranges if requested != "bytes=0-"]
    assert later, ranges  # the far seek asked for a later range…
    for requested, status, header in later:  # …and got exactly it
        assert requested, ranges
        first, last = re.fullmatch(r"bytes=(\d+)-(\d*)", requested).groups()
        assert int(first) > 0 and status == 206, ranges
        assert header == f"bytes {first}-{last or size - 1}/{size}", ranges
    expect(page.get_by_role("link", name="Download")).to_have_attribute(
        "href", f"{download_path}?disposition=attachment"
    )

    # Back to the list, then every call of the client, page after page, down to the oldest.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/calls/\?direction=outbound$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calls", exact=True).click()
    expect(page).to_have_url(re.compile(r"/calls/$"))
    seen = listed(page)
    older = page.get_by_role("link", name="Older")
    while older.count():
        older.click()
        expect(page).to_have_url(re.compile(r"cursor="))
        expect(page.get_by_role("link", name="Newer")).to_be_visible()
        seen += listed(page)
    assert seen == calls["newest_first"]
    expect(page.locator(f'tr[data-call="{calls["newest_first"][-1]}"]')).to_be_visible()
    expect(older).to_have_count(0)

    page.wait_for_load_state("networkidle")
    assert page.csp_errors() == []
    assert Recording.objects.get().public_id == calls["recording"].public_id


def test_the_calls_pages_fit_a_phone(open_page, calls):
    page = open_page(MOBILE)
    sign_in(page)
    expect_parts_loaded(page)
    assert not has_horizontal_scroll(page)

    page.goto("/calls/")
    expect(page.locator("tr[data-call]")).to_have_count(PAGE_SIZE)
    row = page.locator("tr[data-call]").first
    assert row.evaluate("row => getComputedStyle(row).display") == "block"  # rows are cards on a phone
    assert not has_horizontal_scroll(page)
    page.goto("/calls/?started_from=not-a-date")  # errors shown: still fits
    expect(page.locator(".field-errors")).to_be_visible()
    assert not has_horizontal_scroll(page)

    page.goto(f"/calls/{calls['recorded'].public_id}/")
    expect(page.locator("audio.player")).to_be_visible()
    assert not has_horizontal_scroll(page)
    assert page.csp_errors() == []
