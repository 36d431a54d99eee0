"""The calls list in a real browser (Chromium): a viewer sees no Play link and no Export button; an owner
searches, sees the filters in force and clears one, sorts by duration from the column header, and
exports a large list, whose progress page polls until the download link appears.

Uses the live server and the calls of tests/test_browser_recordings.py (client A: eight calls, the
second recorded; client B: two that must never show).
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.models import Client
from accounts.roles import Role
from recordings import csv_export
from recordings.models import Call, CallExport
from tests.factories import UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401
from tests.s3 import local_storage  # noqa: F401
from tests.test_browser_recordings import calls, listed, open_page, sign_in  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_viewer_sees_no_play_link_nor_export_button(open_page, calls):  # noqa: F811
    acme = Client.objects.get(slug="acme-apparel")
    UserFactory(email="viewer@acme.example", client=acme, role=Role.VIEWER)
    recorded = f'tr[data-call="{calls["recorded"].public_id}"]'

    agent = open_page()
    sign_in(agent)
    agent.goto("/calls/")
    expect(agent.locator(recorded).get_by_role("link", name=re.compile("Play"))).to_be_visible()

    viewer = open_page()
    sign_in(viewer, "viewer@acme.example")
    viewer.goto("/calls/")
    expect(viewer.locator(recorded)).to_be_visible()
    expect(viewer.get_by_role("link", name=re.compile("Play"))).to_have_count(0)
    expect(viewer.get_by_role("button", name="Export CSV")).to_have_count(0)
    expect(viewer.locator("[data-total]")).to_have_text("8 calls")


def test_an_owner_searches_sorts_and_exports_a_large_list(open_page, calls, settings):  # noqa: F811
    acme = Client.objects.get(slug="acme-apparel")
    UserFactory(email="owner@acme.example", client=acme, role=Role.OWNER)
    by_duration = {str(call.public_id): call.duration_seconds for call in Call.objects.filter(client=acme)}
    for n, public_id in enumerate(calls["newest_first"]):  # distinct durations: 0, 40, 80…
        Call.objects.filter(public_id=public_id).update(duration_seconds=40 * n)
        by_duration[public_id] = 40 * n
    settings.CALL_EXPORT_STREAM_MAX_ROWS = 2
    # The worker is another process: here the export waits in a queue nobody runs until the test writes it.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    page = open_page()
    sign_in(page, "owner@acme.example")

    page.goto("/calls/")
    page.get_by_role("searchbox", name="Search").fill("+9198")
    page.get_by_label("Direction").select_option("outbound")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"q=%2B9198"))
    expect(page.locator("[data-chip]")).to_have_count(2)
    expect(page.locator('[data-chip="Direction"]')).to_contain_text("Outbound")
    expect(page.locator("[data-total]")).to_have_text("Matching: 4 calls")
    assert listed(page) == calls["outbound"][:3]

    page.get_by_role("link", name="Clear Search").click()
    expect(page.locator("[data-chip]")).to_have_count(1)
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("")

    page.get_by_role("link", name="Duration").click()
    expect(page).to_have_url(re.compile(r"ordering=-duration_seconds"))
    expect(page.get_by_text("Longest first.")).to_be_visible()
    longest = sorted(calls["outbound"], key=by_duration.get, reverse=True)
    assert listed(page) == longest[:3]
    page.get_by_role("link", name="Duration").click()
    expect(page).to_have_url(re.compile(r"ordering=duration_seconds"))
    assert listed(page) == list(reversed(longest))[:3]

    page.get_by_role("button", name="Export CSV").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Calls export")
    expect(page.locator("[data-export-state]")).to_have_text("Queued")
    expect(page.get_by_role("link", name="Download the CSV")).to_be_hidden()

    export = CallExport.objects.get()
    assert export.filters == {"direction": "outbound", "ordering": "duration_seconds"}
    csv_export.call_export_run(export_id=export.pk)

    download = page.get_by_role("link", name="Download the CSV")
    expect(download).to_be_visible()  # the page asked its status again and showed the link
    expect(page.locator("[data-export-state]")).to_have_text("Ready")
    expect(page.locator("[data-export-rows]")).to_have_text("4 of about 4 calls written")
    with page.expect_download() as caught:
        download.click()
    lines = Path(caught.value.path()).read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == list(reversed(longest))
    assert page.csp_errors() == []
