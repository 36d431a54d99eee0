"""Tags and the settings page in a real browser (Debian's Chromium through Playwright): an owner creates tags,
changes the company's time zone and the recording retention on /settings/; an agent tags a call from its
page, removes a tag, and filters the calls list by it; no page breaks the CSP."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import AuditAction, AuditEvent, Client
from accounts.roles import Role
from recordings.models import CallTag, Tag
from tests.factories import CallFactory, ClientFactory, TagFactory, UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401
from tests.test_browser_recordings import DESKTOP, MOBILE, has_horizontal_scroll, open_page, sign_in  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def acme(transactional_db):
    client = ClientFactory(name="Acme Apparel", slug="acme-apparel")
    UserFactory(email="owner@acme.example", client=client, role=Role.OWNER)
    UserFactory(email="agent@acme.example", client=client, role=Role.AGENT)
    return client


def test_an_owner_manages_company_tags_and_retention(open_page, acme):  # noqa: F811
    page = open_page()
    sign_in(page, "owner@acme.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile("/settings/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    expect(page.locator(".settings-note")).to_contain_text("90 days")

    # The time zone: typed, found in the list of every zone, saved.
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_attribute("list", "timezones")
    assert page.locator("#timezones option").count() > 400
    zone.fill("Europe/London")
    page.get_by_role("button", name="Save company details").click()
    expect(page.locator(".message-success")).to_have_text("Company details saved.")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/London")

    # An unknown zone is refused on the form; nothing changes.
    page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    page.get_by_role("button", name="Save company details").click()
    expect(page.locator("#company-settings .field-errors")).to_contain_text("not a time zone")
    acme.refresh_from_db()
    assert acme.timezone == "Europe/London"

    # Two tags, the second refused as a duplicate whatever its case, then one renamed.
    new_tag = page.locator("[data-new-tag-form]")
    new_tag.get_by_label("Name").fill("Refund")
    new_tag.get_by_label("Colour").select_option(label="Red")
    new_tag.get_by_role("button", name="Add tag").click()
    expect(page.locator(".message-success")).to_have_text("Tag “Refund” added.")
    expect(page.locator("[data-tag-row]")).to_have_count(1)
    new_tag = page.locator("[data-new-tag-form]")
    new_tag.get_by_label("Name").fill("REFUND")
    new_tag.get_by_role("button", name="Add tag").click()
    expect(page.locator("[data-new-tag-form] .field-errors")).to_contain_text("already a tag")
    row = page.locator('[data-tag-row="Refund"]')
    row.get_by_label("Name of the tag Refund").fill("Refunds")
    row.get_by_role("button", name="Save").click()
    expect(page.locator('[data-tag-row="Refunds"] .tag-red')).to_have_text("Refunds")
    assert list(Tag.objects.values_list("name", flat=True)) == ["Refunds"]

    # Retention, owners only: out of range is a form error, then 120 days.
    retention = page.get_by_label("Keep recordings for (days)")
    retention.fill("0")
    page.get_by_role("button", name="Save retention").click()
    expect(page.locator("#retention-settings .field-errors")).to_be_visible()
    page.get_by_label("Keep recordings for (days)").fill("120")
    page.get_by_role("button", name="Save retention").click()
    expect(page.locator(".message-success")).to_have_text("Recordings are kept for 120 days.")
    assert Client.objects.get(pk=acme.pk).recording_retention_days == 120

    # Deleting asks first (a disclosure), then takes the tag away.
    page.locator('[data-tag-row="Refunds"] summary').click()
    page.get_by_role("button", name="Delete “Refunds”").click()
    expect(page.locator("[data-no-tags]")).to_be_visible()
    assert not Tag.objects.exists()
    assert page.csp_errors() == []

    # The page fits a phone.
    phone = open_page(MOBILE)
    sign_in(phone, "owner@acme.example")
    phone.goto("/settings/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Settings")
    assert not has_horizontal_scroll(phone)


def test_an_agent_tags_a_call_and_filters_the_list_by_it(open_page, acme):  # noqa: F811
    refund = TagFactory(client=acme, name="refund", colour="red")
    TagFactory(client=acme, name="delivery", colour="blue")
    tagged, other = CallFactory(client=acme), CallFactory(client=acme)
    page = open_page(DESKTOP)
    sign_in(page, "agent@acme.example")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings")).to_have_count(0)

    page.goto(f"/calls/{tagged.public_id}/")
    tags_card = page.locator("#tags")
    expect(tags_card.locator("[data-no-tags]")).to_be_visible()
    tags_card.get_by_label("Tag to add").select_option(label="refund")
    tags_card.get_by_role("button", name="Add").click()
    expect(page).to_have_url(re.compile(rf"/calls/{tagged.public_id}/#tags$"))
    expect(page.locator('[data-call-tags] [data-tag="refund"]')).to_be_visible()
    expect(page.locator("#tag-add option")).to_have_count(2)  # the prompt and "delivery"

    page.locator("#tag-add").select_option(label="delivery")
    page.locator("#tags").get_by_role("button", name="Add").click()
    expect(page.locator("[data-call-tags] li")).to_have_count(2)
    page.get_by_role("button", name="Remove the tag delivery").click()
    expect(page.locator("[data-call-tags] li")).to_have_count(1)
    assert list(CallTag.objects.values_list("call_id", "tag_id")) == [(tagged.pk, refund.pk)]
    assert AuditEvent.objects.filter(action=AuditAction.CALL_TAGS_CHANGED).count() == 3

    page.goto("/calls/")
    expect(page.locator("tr[data-call]")).to_have_count(2)
    page.get_by_label("Tag").select_option(label="refund")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"/calls/\?tag={refund.public_id}$"))
    expect(page.locator("tr[data-call]")).to_have_count(1)
    expect(page.locator(f'tr[data-call="{tagged.public_id}"]')).to_be_visible()
    assert other.public_id
    assert page.csp_errors() == []
