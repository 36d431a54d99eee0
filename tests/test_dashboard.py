"""The dashboard (caly/dashboard.py) and the API's stats: the range picker (today, 7, 30, 90 local days in the
client's time zone), the range's figures, answered and missed per day with links to the matching calls, one
row per agent, a new client's steps to its first call, every role, bad input.
"""

import html
import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client as BrowserClient

from accounts.models import OnboardingStep
from accounts.roles import Role
from integrations.exotel.services import exotel_callback_urls
from integrations.models import ExotelConnection
from recordings import selectors, services
from recordings.models import Call
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

# Wednesday 12 March 2025, 12:00 in Asia/Kolkata (the clients' default time zone, UTC+5:30).
NOW = datetime(2025, 3, 12, 6, 30, tzinfo=UTC)


def text(response) -> str:
    return html.unescape(response.content.decode())


def signed_in(user) -> BrowserClient:
    browser = BrowserClient()
    browser.force_login(user)
    return browser


def make_call(client, n: int, started_at: datetime, **fields) -> Call:
    """A completed, answered inbound call; `fields` override."""
    values = {
        "provider_call_id": f"CA{client.slug}{n:04d}",
        "direction": "inbound",
        "from_number": f"+91980000{n:04d}",
        "to_number": "+918047181234",
        "status": "completed",
        "started_at": started_at,
        "answered_at": started_at + timedelta(seconds=5),
        "duration_seconds": 95,
        **fields,
    }
    return services.call_create(client=client, **values)


def missed(**fields) -> dict:
    return {"status": "no-answer", "answered_at": None, "duration_seconds": 0, **fields}


@pytest.fixture
def agents(client_a):
    return (
        UserFactory(client=client_a, role=Role.AGENT, first_name="Priya", last_name="Shah", email="priya@acme.example"),
        UserFactory(client=client_a, role=Role.AGENT, first_name="Ravi", last_name="Kumar", email="ravi@acme.example"),
    )


@pytest.fixture
def history(client_a, client_b, agents):
    """Calls around Wednesday 12 March 2025 (Kolkata): two today, one on Monday, one 20 days ago,
    one 40 days ago, one at 00:10 today Kolkata (still yesterday in UTC), and a call of client B today."""
    priya, ravi = agents
    noon = NOW
    make_call(
        client_a,
        1,
        noon - timedelta(hours=2),
        duration_seconds=100,
        is_resolved=True,
        agent=priya,
        customer_satisfaction=4,
    )
    make_call(client_a, 2, noon - timedelta(hours=1), **missed(agent=priya))
    make_call(client_a, 3, noon - timedelta(days=2), duration_seconds=200, agent=ravi, customer_satisfaction=5)
    make_call(client_a, 4, noon - timedelta(days=20), **missed())
    make_call(client_a, 5, noon - timedelta(days=40))
    # 00:10 on 12 March in Kolkata is 18:40 UTC on 11 March: today for the client.
    make_call(client_a, 6, datetime(2025, 3, 11, 18, 40, tzinfo=UTC), direction="outbound", **missed(agent=ravi))
    make_call(client_b, 7, noon)


def figures(response) -> dict[str, str]:
    return dict(re.findall(r'<div class="figure"><dt>([^<]+)</dt><dd>([^<]+)</dd></div>', text(response)))


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(html.unescape(url)).query).items()}


# --- the range picker --------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_it_offers_four_ranges_and_loads_the_parts_for_the_chosen_one(alice, history):
    page = signed_in(alice).get("/dashboard/?range=30d")

    assert page.status_code == 200
    body = page.content.decode()
    picker = re.findall(r'<a href="([^"]+)"( aria-current="page")? data-range="([^"]+)">([^<]+)</a>', body)
    assert [(url, bool(current), name, label) for url, current, name, label in picker] == [
        ("/dashboard/?range=today", False, "today", "Today"),
        ("/dashboard/?range=7d", False, "7d", "7 days"),
        ("/dashboard/?range=30d", True, "30d", "30 days"),
        ("/dashboard/?range=90d", False, "90d", "90 days"),
    ]
    for part in ("figures", "chart", "agents"):
        assert f'data-async-src="/dashboard/parts/{part}?range=30d"' in body
    assert "<script>" not in body and "style=" not in body


@time_machine.travel(NOW, tick=False)
def test_the_default_range_is_the_last_7_days(alice, history):
    body = signed_in(alice).get("/dashboard/").content.decode()
    assert 'aria-current="page" data-range="7d"' in body
    assert 'data-async-src="/dashboard/parts/figures?range=7d"' in body


@pytest.mark.parametrize(
    ("name", "first", "calls"),
    [("today", "2025-03-12", 3), ("7d", "2025-03-06", 4), ("30d", "2025-02-11", 5), ("90d", "2024-12-13", 6)],
)
@time_machine.travel(NOW, tick=False)
def test_each_range_ends_today_in_the_clients_time_zone(alice, history, name, first, calls):
    summary = signed_in(alice).get(f"/api/v1/stats/summary?range={name}").json()["data"]

    assert (summary["from"], summary["to"]) == (first, "2025-03-12")
    assert summary["calls"] == calls  # client B's call is never counted
    assert len(summary["calls_per_day"]) == (date(2025, 3, 12) - date.fromisoformat(first)).days + 1


@time_machine.travel(datetime(2025, 3, 11, 19, 0, tzinfo=UTC), tick=False)  # 00:30 on 12 March in Kolkata
def test_today_is_the_clients_day_not_the_servers(alice, client_a, history):
    assert selectors.stats_range(client=client_a, name="today") == (date(2025, 3, 12), date(2025, 3, 12))
    client_a.timezone = "America/New_York"  # 15:00 on 11 March there
    client_a.save()
    assert selectors.stats_range(client=client_a, name="today") == (date(2025, 3, 11), date(2025, 3, 11))
    assert selectors.stats_range(client=client_a, name="7d") == (date(2025, 3, 5), date(2025, 3, 11))


@pytest.mark.parametrize("bad", ["365d", "week", "7", "' OR 1=1 --", "x" * 5000])
def test_a_range_it_does_not_offer_is_a_form_error_on_the_page_and_400_on_a_part(alice, history, bad):
    browser = signed_in(alice)

    page = browser.get("/dashboard/", {"range": bad})
    part = browser.get("/dashboard/parts/agents", {"range": bad})

    assert page.status_code == 400
    assert "Choose a range: Today, 7 days, 30 days, 90 days." in text(page)
    assert "data-async-src" not in page.content.decode()  # no figures for a range it cannot read
    assert part.status_code == 400 and "Choose a range" in part.content.decode()


# --- the parts ---------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_the_figures_part_shows_the_ranges_figures(alice, history):
    browser = signed_in(alice)

    today = browser.get("/dashboard/parts/figures?range=today")
    week = browser.get("/dashboard/parts/figures?range=7d")

    assert today.status_code == week.status_code == 200
    assert "<html" not in today.content.decode()  # a fragment, not a page
    assert "Wednesday 12 March" in text(today)
    assert figures(today) == {
        "Calls": "3",
        "Answered": "33%",
        "Missed": "1",  # the outbound call nobody answered is not missed
        "Average handle time": "1:40",
        "Resolved": "33%",
        "Satisfaction": "4.0 / 5",
        "Recordings stored": "0",
        "Recordings failed": "0",
        "To ring back": "2",  # numbers whose missed calls nobody has answered since, whatever the range
    }
    assert "Thu 6 Mar – Wed 12 Mar" in text(week)
    assert figures(week)["Calls"] == "4" and figures(week)["Missed"] == "1"
    assert figures(week)["Average handle time"] == "2:30" and figures(week)["Satisfaction"] == "4.5 / 5"
    links = re.findall(r'<a href="([^"]+)">See (?:these|the missed) calls</a>', week.content.decode())
    assert [query_of(url) for url in links] == [
        {"started_from": "2025-03-06", "started_to": "2025-03-12"},
        {"started_from": "2025-03-06", "started_to": "2025-03-12", "outcome": "missed"},
    ]


@time_machine.travel(NOW, tick=False)
def test_the_chart_stacks_answered_and_missed_per_day_and_links_each_day_to_its_calls(alice, history):
    response = signed_in(alice).get("/dashboard/parts/chart?range=30d")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg class="chart-svg"' in page and "style=" not in page
    days = re.findall(
        r'<g class="chart-day( chart-day-today)?" data-date="([\d-]+)" data-calls="(\d+)" '
        r'data-answered="(\d+)" data-missed="(\d+)">',
        page,
    )
    assert len(days) == 30 and days[0][1] == "2025-02-11" and days[-1][1] == "2025-03-12"
    by_date = {day: (int(calls), int(answered), int(missed_)) for _, day, calls, answered, missed_ in days}
    assert by_date["2025-03-12"] == (3, 1, 1)  # answered, missed, and an outbound call nobody answered
    assert by_date["2025-03-10"] == (1, 1, 0)
    assert by_date["2025-02-20"] == (1, 0, 1)
    assert sum(calls for calls, _, _ in by_date.values()) == 5  # 40 days ago and client B's are not drawn
    assert [today for today, *_ in days].count(" chart-day-today") == 1
    assert "5 calls from 11 Feb to 12 Mar: 2 answered, 2 missed; the busiest day was Wed 12 Mar with 3." in text(
        response
    )
    # The table's links open the calls list on that day, and its answered or missed calls.
    row = re.search(r'<tr data-date="2025-03-12">(.*?)</tr>', page).group(1)
    urls = [query_of(url) for url in re.findall(r'href="([^"]+)"', row)]
    assert urls == [
        {"started_from": "2025-03-12", "started_to": "2025-03-12"},
        {"started_from": "2025-03-12", "started_to": "2025-03-12", "outcome": "answered"},
        {"started_from": "2025-03-12", "started_to": "2025-03-12", "outcome": "missed"},
    ]


@time_machine.travel(NOW, tick=False)
def test_a_days_missed_link_lists_exactly_the_calls_it_counted(alice, history):
    browser = signed_in(alice)
    chart = browser.get("/dashboard/parts/chart?range=30d").content.decode()
    row = re.search(r'<tr data-date="2025-03-12">(.*?)</tr>', chart).group(1)
    missed_url = html.unescape(re.findall(r'href="([^"]+)"', row)[2])

    page = browser.get(missed_url)
    api = browser.get("/api/v1/calls?" + urlsplit(missed_url).query).json()["data"]

    assert page.status_code == 200
    assert [call["from_number"] for call in api] == ["+919800000002"]


@time_machine.travel(NOW, tick=False)
def test_the_agents_part_has_a_row_per_agent_and_one_for_calls_no_member_took(alice, history, agents):
    priya, ravi = agents
    idle = UserFactory(
        client=alice.client, role=Role.AGENT, first_name="Idle", last_name="Agent", email="idle@acme.example"
    )

    response = signed_in(alice).get("/dashboard/parts/agents?range=30d")

    assert response.status_code == 200
    page = response.content.decode()
    rows = re.findall(r'<tr data-agent="([^"]+)">(.*?)</tr>', page, re.S)
    assert [agent for agent, _ in rows] == [str(priya.public_id), str(ravi.public_id), str(idle.public_id), "none"]
    cells = {agent: re.findall(r'<td data-label="([^"]+)"[^>]*>(.*?)</td>', row) for agent, row in rows}
    values = {agent: {label: re.sub(r"<[^>]+>", "", value) for label, value in row} for agent, row in cells.items()}
    assert values[str(priya.public_id)] == {
        "Agent": "Priya Shah",
        "Calls": "2",
        "Answered": "1",
        "Missed": "1",
        "Average handle time": "1:40",
        "Resolved": "50%",
        "Satisfaction": "4.0",
    }
    assert values[str(ravi.public_id)] == {
        "Agent": "Ravi Kumar",
        "Calls": "2",
        "Answered": "1",
        "Missed": "0",
        "Average handle time": "3:20",
        "Resolved": "0%",
        "Satisfaction": "5.0",
    }
    assert values["none"]["Calls"] == "1" and values["none"]["Missed"] == "1"
    assert values[str(idle.public_id)]["Calls"] == "0" and values[str(idle.public_id)]["Average handle time"] == "—"
    # Each member's row opens the calls list filtered to them for the range.
    link = re.search(r'<a href="([^"]+)">Priya Shah</a>', page).group(1)
    assert query_of(link) == {
        "agent": str(priya.public_id),
        "started_from": "2025-02-11",
        "started_to": "2025-03-12",
    }


def test_a_part_without_a_session_answers_401_and_an_unknown_part_404(client, alice):
    assert client.get("/dashboard/parts/figures?range=7d").status_code == 401
    assert signed_in(alice).get("/dashboard/parts/weather").status_code == 404


def test_a_failing_part_answers_an_error_and_the_others_still_work(alice, history, monkeypatch):
    browser = BrowserClient(raise_request_exception=False)
    browser.force_login(alice)
    real = selectors.agent_day_summary

    def failing_for_30_days(*, client, first, last):
        if (last - first).days == 29:
            raise RuntimeError("the database is slow today")
        return real(client=client, first=first, last=last)

    monkeypatch.setattr(selectors, "agent_day_summary", failing_for_30_days)

    failed = browser.get("/dashboard/parts/chart?range=30d")
    assert failed.status_code == 500 and failed["X-Request-ID"]  # the part shows "error 500, request id …"
    assert browser.get("/dashboard/parts/chart?range=7d").status_code == 200
    assert browser.get("/dashboard/?range=30d").status_code == 200


# --- every role --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
@time_machine.travel(NOW, tick=False)
def test_every_role_reads_the_dashboard_its_parts_and_the_stats(client_a, history, role):
    browser = signed_in(UserFactory(email=f"{role}@acme.example", client=client_a, role=role))

    assert browser.get("/dashboard/?range=90d").status_code == 200
    for part in ("figures", "chart", "agents"):
        assert browser.get(f"/dashboard/parts/{part}?range=90d").status_code == 200
    assert browser.get("/api/v1/stats/summary?range=90d").status_code == 200


def test_staff_and_signed_out_visitors_do_not_get_the_dashboard(client, staff):
    assert client.get("/dashboard/").status_code == 302
    assert signed_in(staff).get("/dashboard/").status_code == 403
    assert signed_in(staff).get("/dashboard/parts/figures").status_code == 403


# --- a new client's first call -----------------------------------------------------------------


@pytest.fixture
def new_client():
    return ClientFactory(name="Chai Point", slug="chai-point", onboarding_step=OnboardingStep.DONE)


def owner_of(client, role=Role.OWNER):
    return UserFactory(email=f"{role}@chai-point.example", client=client, role=role)


def test_a_client_without_calls_is_told_to_connect_exotel_instead_of_shown_zeros(new_client):
    page = signed_in(owner_of(new_client)).get("/dashboard/")

    assert page.status_code == 200
    body = text(page)
    assert "Your first call" in body and "No calls yet." in body
    assert '<a class="button button-small" href="/accounts/onboarding/exotel/">Connect Exotel</a>' in body
    assert "appear here once Exotel is connected" in body
    assert "Place a test call" in body and "your Exotel number" in body
    assert "data-async-src" not in body and "chart-svg" not in body  # no zeros, no empty chart


def test_once_exotel_is_connected_it_shows_the_callback_urls_and_the_numbers_to_call(new_client):
    connection = ExotelConnection.objects.create(
        client=new_client,
        account_sid="chaipoint1",
        api_key="key",
        api_token="token",
        caller_ids=["+918047112233"],
        verified_at=datetime.now(UTC),  # Exotel accepted the credentials: only then is it connected
    )

    body = text(signed_in(owner_of(new_client)).get("/dashboard/"))

    assert "Exotel is connected." in body and "Connect Exotel</a>" not in body
    for url in exotel_callback_urls(connection=connection).values():  # what to paste, with its token
        assert f'readonly value="{url}"' in body
    assert 'Call <span class="number">+918047112233</span> from any phone' in body
    assert 'src="/static/js/copy.js"' in body


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_members_who_cannot_connect_exotel_are_told_who_does_and_never_see_the_token(new_client, role):
    connection = ExotelConnection.objects.create(
        client=new_client,
        account_sid="chaipoint1",
        api_key="key",
        api_token="token",
        caller_ids=["+918047112233"],
        verified_at=datetime.now(UTC),  # Exotel accepted the credentials: only then is it connected
    )

    body = text(signed_in(owner_of(new_client, role)).get("/dashboard/"))

    assert "Your first call" in body and 'Call <span class="number">+918047112233</span>' in body
    assert connection.webhook_token not in body and "copies the two callback URLs" in body


def test_before_the_wizard_reaches_exotel_the_link_is_the_integrations_page(new_client):
    new_client.onboarding_step = OnboardingStep.COMPANY
    new_client.save()
    browser = signed_in(owner_of(new_client))
    assert browser.get("/dashboard/").status_code == 302  # the wizard is due once a sign-in; then the dashboard

    body = text(browser.get("/dashboard/"))

    assert '<a class="button button-small" href="/integrations/">Connect Exotel</a>' in body


def test_the_first_call_brings_the_normal_dashboard(new_client):
    browser = signed_in(owner_of(new_client))
    assert "Your first call" in text(browser.get("/dashboard/"))

    make_call(new_client, 1, datetime.now(tz=UTC) - timedelta(minutes=5))

    body = text(browser.get("/dashboard/"))
    assert "Your first call" not in body
    assert 'data-async-src="/dashboard/parts/agents?range=7d"' in body


# --- the API -----------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_the_stats_endpoint_has_answered_and_missed_per_day_and_the_agents(alice, api, history, agents):
    priya, ravi = agents
    api.force_authenticate(alice)

    data = api.get("/api/v1/stats/summary", {"range": "7d"}).json()["data"]

    assert data["missed"] == 1 and data["answered"] == 2 and data["calls"] == 4
    assert data["calls_per_day"][-1] == {"date": "2025-03-12", "calls": 3, "answered": 1, "missed": 1}
    assert data["calls_per_day"][-3] == {"date": "2025-03-10", "calls": 1, "answered": 1, "missed": 0}
    assert data["agents"] == [
        {
            "agent": {"id": str(priya.public_id), "name": "Priya Shah", "email": "priya@acme.example"},
            "calls": 2,
            "answered": 1,
            "missed": 1,
            "average_handle_seconds": 100.0,
            "resolved_rate": 0.5,
            "average_satisfaction": 4.0,
        },
        {
            "agent": {"id": str(ravi.public_id), "name": "Ravi Kumar", "email": "ravi@acme.example"},
            "calls": 2,
            "answered": 1,
            "missed": 0,
            "average_handle_seconds": 200.0,
            "resolved_rate": 0.0,
            "average_satisfaction": 5.0,
        },
    ]
    dates = api.get("/api/v1/stats/summary", {"started_from": "2025-02-11", "started_to": "2025-03-12"}).json()
    assert dates["data"]["agents"][-1] == {
        "agent": None,
        "calls": 1,
        "answered": 0,
        "missed": 1,
        "average_handle_seconds": None,
        "resolved_rate": 0.0,
        "average_satisfaction": None,
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"range": "365d"}, "range"),
        ({"range": ""}, "range"),
        ({"range": "7d", "started_from": "2025-03-01"}, "range"),
        ({"range": "today", "started_to": "2025-03-01"}, "range"),
        ({"started_from": "2025-03-02", "started_to": "2025-03-01"}, "started_to"),
    ],
)
def test_a_bad_range_is_a_400_in_the_envelope(alice, api, query, field):
    api.force_authenticate(alice)

    response = api.get("/api/v1/stats/summary", query)

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "VALIDATION_ERROR"
    assert field in body["error"]["details"]


def test_the_calls_lists_outcome_filter_is_validated(alice, api):
    api.force_authenticate(alice)
    response = api.get("/api/v1/calls", {"outcome": "maybe"})
    assert response.status_code == 400 and "outcome" in response.json()["error"]["details"]
    assert signed_in(alice).get("/calls/", {"outcome": "maybe"}).status_code == 400
