"""Agents' features in a real browser (Chromium, against the live server and the fake Exotel on 127.0.0.1):
an agent registers their number, opens the missed calls, calls a customer back with one click and lands on the
new call; Exotel's refusal is shown in words; a viewer sees the list without call-back buttons."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import MemberPhone
from accounts.roles import Role
from integrations.models import ExotelConnection
from recordings.models import Call, CallStatus, Direction
from tests.exotel_fake import ACCOUNT_SID, API_KEY, API_TOKEN, EXOPHONE, exotel_fixture  # noqa: F401
from tests.factories import PASSWORD, CallFactory, ClientFactory, UserFactory
from tests.playwright import allow_database_calls_beside_playwright, browser  # noqa: F401

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)
CONNECT = f"/v1/Accounts/{ACCOUNT_SID}/Calls/connect.json"
AGENT_PHONE = "+919900011122"
CALLER = "+919812345678"
CALLED_BACK = "+919811122233"


@pytest.fixture
def open_page(browser, live_server, transactional_db):  # noqa: F811
    contexts = []

    def _open():
        context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.csp = []
        page.on("console", lambda msg: page.csp.append(msg.text) if "Content Security Policy" in msg.text else None)
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def desk(transactional_db, exotel):
    """Acme with Exotel connected to the fake, an agent and a viewer; two numbers missed, one of them since
    answered by a call back; Bolt has a missed call that must never show."""
    acme = ClientFactory(name="Acme Apparel", slug="acme-apparel")
    bolt = ClientFactory(name="Bolt Books", slug="bolt-books")
    ExotelConnection.objects.create(
        client=acme,
        account_sid=ACCOUNT_SID,
        api_key=API_KEY,
        api_token=API_TOKEN,
        api_host=exotel.host,
        caller_ids=[EXOPHONE],
        verified_at=timezone.now(),
    )
    agent = UserFactory(email="agent@acme.example", first_name="Asha", client=acme, role=Role.AGENT)
    UserFactory(email="viewer@acme.example", client=acme, role=Role.VIEWER)
    now = timezone.now()

    def missed(client, number, minutes):
        return CallFactory(
            client=client,
            direction=Direction.INBOUND,
            from_number=number,
            status=CallStatus.NO_ANSWER,
            started_at=now - timedelta(minutes=minutes),
        )

    missed(acme, CALLER, 50)
    missed(acme, CALLER, 20)
    missed(acme, CALLED_BACK, 40)
    CallFactory(
        client=acme,
        direction=Direction.OUTBOUND,
        from_number=AGENT_PHONE,
        to_number=CALLED_BACK,
        started_at=now - timedelta(minutes=30),
    )
    missed(bolt, "+919800000001", 10)
    return {"acme": acme, "agent": agent}


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def register_number(page):
    page.get_by_role("link", name="Phone numbers").click()
    expect(page.locator("[data-no-phones]")).to_be_visible()
    page.get_by_label("Phone number").fill("099000 11122")
    page.get_by_label("Label").fill("Mobile")
    page.get_by_role("button", name="Add number").click()
    expect(page.locator(f'[data-my-phones] tr[data-phone="{AGENT_PHONE}"]')).to_be_visible()


def test_an_agent_registers_their_number_and_calls_a_missed_caller_back(open_page, desk, exotel):
    page = open_page()
    sign_in(page, "agent@acme.example")
    register_number(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Missed calls", exact=True).click()
    rows = page.locator("tr[data-missed]")
    expect(rows).to_have_count(1)  # the other number was answered since; Bolt's is Bolt's
    row = page.locator(f'tr[data-missed="{CALLER}"]')
    expect(row.locator("[data-attempts]")).to_contain_text("2")
    expect(page.locator("[data-missed-total]")).to_have_text("1 number to ring back.")

    row.get_by_role("button", name=f"Call {CALLER}").click()

    expect(page.get_by_text("Exotel is ringing your phone")).to_be_visible()
    call = Call.objects.get(direction=Direction.OUTBOUND, to_number=CALLER)
    assert page.url.endswith(f"/calls/{call.public_id}/")
    expect(page.locator("[data-agent]")).to_contain_text("Asha")
    [request] = exotel.seen(CONNECT)
    assert (request.form["From"], request.form["To"]) == (AGENT_PHONE, CALLER)
    assert call.agent == desk["agent"]
    assert not page.csp


def test_my_calls_lists_the_calls_i_placed(open_page, desk, exotel):
    MemberPhone.objects.create(client=desk["acme"], user=desk["agent"], number=AGENT_PHONE)
    page = open_page()
    sign_in(page, "agent@acme.example")
    page.goto("/calls/missed/")
    page.locator(f'tr[data-missed="{CALLER}"]').get_by_role("button", name=f"Call {CALLER}").click()
    expect(page.get_by_text("Exotel is ringing your phone")).to_be_visible()

    page.get_by_role("link", name="My calls").click()

    placed = Call.objects.get(direction=Direction.OUTBOUND, to_number=CALLER)
    expect(page.locator("tr[data-call]")).to_have_count(1)
    expect(page.locator(f'tr[data-call="{placed.public_id}"]')).to_be_visible()
    expect(page.get_by_label("Agent")).to_have_value("me")


def test_exotels_refusal_is_shown_in_words(open_page, desk, exotel):
    MemberPhone.objects.create(client=desk["acme"], user=desk["agent"], number=AGENT_PHONE)
    exotel.script(CONNECT, 400)
    page = open_page()
    sign_in(page, "agent@acme.example")
    page.goto("/calls/missed/")

    page.locator(f'tr[data-missed="{CALLER}"]').get_by_role("button", name=f"Call {CALLER}").click()

    expect(page.get_by_text("The call was not placed. Exotel did not place the call")).to_be_visible()
    assert page.url.endswith("/calls/missed/")
    assert not Call.objects.filter(direction=Direction.OUTBOUND, to_number=CALLER).exists()


def test_a_viewer_sees_the_missed_calls_without_call_back_buttons(open_page, desk):
    page = open_page()
    sign_in(page, "viewer@acme.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Missed calls", exact=True).click()
    expect(page.locator(f'tr[data-missed="{CALLER}"]')).to_be_visible()
    expect(page.locator("[data-click-to-call]")).to_have_count(0)
    page.locator(f'tr[data-missed="{CALLER}"] a').first.click()
    expect(page.locator("[data-agent]")).to_be_visible()
    expect(page.locator("[data-call-back]")).to_have_count(0)
