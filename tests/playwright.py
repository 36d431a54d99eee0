"""The Playwright set-up every browser test module shares. Import both names into the module:

    from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401

Drives Debian's Chromium (/usr/bin/chromium) with Playwright's sync API; it cannot download browsers here.
"""

import os

import pytest
from playwright.sync_api import sync_playwright

from tests.conftest import CHROMIUM

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module", autouse=True)
def allow_database_calls_beside_playwright():
    """Playwright's sync API keeps an asyncio loop running on the main thread; Django would refuse
    the test database flush there. Lifted for the importing module only."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()
