"""The calls list's sort orders, cursors, approximate total, filter chips and field names (API and page)."""

import base64
import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client as BrowserClient

from accounts import jwt
from accounts.roles import Role
from caly.foundation.api.pagination import KeysetPagination
from recordings import selectors, services
from recordings.models import Call
from recordings.selectors import CallCount
from recordings.views import total_label
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
# Durations with ties (three 60s, two 30s), so the keyset's tie-breaker on id is what keeps pages apart.
DURATIONS = [60, 30, 60, 0, 120, 30, 60]
ORDERINGS = ["-started_at", "started_at", "-duration_seconds", "duration_seconds"]


def make_call(client, n, *, duration_seconds, started_at):
    return services.call_create(
        client=client,
        provider_call_id=f"sort-{client.pk}-{n}",
        direction="inbound",
        from_number=f"+9198{n:08d}",
        to_number="+918000000002",
        status="completed",
        started_at=started_at,
        answered_at=started_at,
        ended_at=started_at + timedelta(seconds=duration_seconds),
        duration_seconds=duration_seconds,
    )


@pytest.fixture
def sortable(client_a, client_b):
    made = [
        make_call(client_a, n, duration_seconds=seconds, started_at=START + timedelta(hours=n))
        for n, seconds in enumerate(DURATIONS)
    ]
    make_call(client_b, 99, duration_seconds=45, started_at=START)  # another client's: never listed
    return made


def expected(calls, ordering: str) -> list[str]:
    field = ordering.lstrip("-")
    ordered = sorted(calls, key=lambda call: (getattr(call, field), call.pk), reverse=ordering.startswith("-"))
    return [str(call.public_id) for call in ordered]


@pytest.fixture
def api_as(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


def get(api, **params):
    response = api.get("/api/v1/calls", params)
    return response.status_code, json.loads(response.content)


def cursor_of(payload: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


# --- sorting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_it_sorts_both_ways_and_pages_through_ties_without_repeats(api_as, alice, sortable, ordering):
    api = api_as(alice)
    seen, pages, cursor = [], [], None
    while True:
        params = {"ordering": ordering, "limit": 2, **({"cursor": cursor} if cursor else {})}
        status, body = get(api, **params)
        assert status == 200, body
        pages.append(params)
        seen += [row["id"] for row in body["data"]]
        cursor = body["meta"]["pagination"]["next_cursor"]
        if cursor is None:
            break
    assert seen == expected(sortable, ordering)
    assert len(pages) == 4

    # And back again from the last page: the previous cursors give the same pages in the same order.
    status, body = get(api, **pages[-1])
    assert status == 200
    back = body["data"]
    previous = body["meta"]["pagination"]["previous_cursor"]
    while previous:
        status, body = get(api, ordering=ordering, limit=2, cursor=previous)
        back = body["data"] + back
        previous = body["meta"]["pagination"]["previous_cursor"]
    assert [row["id"] for row in back] == seen


def test_it_refuses_an_unknown_ordering_naming_the_allowed_ones(api_as, alice, sortable):
    status, body = get(api_as(alice), ordering="loudest")

    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    [message] = body["error"]["details"]["ordering"]
    assert all(name in message for name in ORDERINGS)


def test_it_refuses_a_cursor_made_for_another_ordering(api_as, alice, sortable):
    api = api_as(alice)
    _, body = get(api, ordering="-duration_seconds", limit=2)
    cursor = body["meta"]["pagination"]["next_cursor"]

    for other in ("duration_seconds", "-started_at", "started_at"):
        status, refused = get(api, ordering=other, cursor=cursor)
        assert status == 400, other
        assert "another sort order" in refused["error"]["details"]["cursor"][0]
    assert get(api, ordering="-duration_seconds", cursor=cursor)[0] == 200


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!",
        cursor_of({"p": ["long", 5], "b": False, "o": "-duration_seconds,-id"}),  # not a duration
        cursor_of({"p": [2**70, 5], "b": False, "o": "-duration_seconds,-id"}),  # overflows the column
        cursor_of({"p": [-1, 5], "b": False, "o": "-duration_seconds,-id"}),  # a duration is never negative
        cursor_of({"p": [60], "b": False, "o": "-duration_seconds,-id"}),  # a field short
        cursor_of({"p": [60, 5], "b": "yes", "o": "-duration_seconds,-id"}),
        cursor_of({"p": [60, 5], "b": False, "o": ["-duration_seconds", "-id"]}),
        cursor_of({"p": [60, 5], "b": False}),  # without its ordering: only the default order's may be so
        cursor_of([60, 5]),
    ],
)
def test_it_refuses_a_tampered_cursor_with_a_400(api_as, alice, sortable, cursor):
    status, body = get(api_as(alice), ordering="-duration_seconds", cursor=cursor)

    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"
    assert list(body["error"]["details"]) == ["cursor"]


def test_it_still_reads_a_cursor_written_before_orderings_existed(api_as, alice, sortable):
    newest_first = sorted(sortable, key=lambda call: call.started_at, reverse=True)
    paginator = KeysetPagination()
    paginator.fields = ["started_at", "id"]
    old = paginator.encode_cursor(newest_first[1], backwards=False)  # no ordering inside

    status, body = get(api_as(alice), cursor=old)

    assert status == 200
    assert [row["id"] for row in body["data"]] == [str(call.public_id) for call in newest_first[2:]]


# --- the total -----------------------------------------------------------------------------------


def test_it_counts_a_small_list_exactly(api_as, alice, sortable):
    api = api_as(alice)
    assert get(api)[1]["meta"]["pagination"]["total"] == {"count": 7, "exact": True}
    assert get(api, min_duration=60)[1]["meta"]["pagination"]["total"] == {"count": 4, "exact": True}
    assert get(api, number_prefix="+91980")[1]["meta"]["pagination"]["total"] == {"count": 7, "exact": True}
    assert get(api, status="busy")[1]["meta"]["pagination"]["total"] == {"count": 0, "exact": True}


def test_it_counts_a_filter_that_can_match_nothing(api_as, alice, sortable):
    # An order number no order has: the condition is empty before any query (the fuzzer's `order=0`).
    status, body = get(api_as(alice), order="0")

    assert status == 200 and body["data"] == []
    assert body["meta"]["pagination"]["total"] == {"count": 0, "exact": True}


def test_it_stops_counting_past_the_cap(api_as, alice, sortable, monkeypatch):
    monkeypatch.setattr(selectors, "CALL_COUNT_EXACT_MAX", 3)
    # On PostgreSQL the per-day rollup counts an unfiltered list exactly; a filter makes it count rows.
    body = get(api_as(alice), min_duration=0)[1]
    total = body["meta"]["pagination"]["total"]
    assert total["exact"] is False and total["count"] >= 4


@pytest.mark.postgres
def test_it_counts_from_the_per_day_rollup_without_filters(api_as, alice, sortable, monkeypatch):
    monkeypatch.setattr(selectors, "CALL_COUNT_EXACT_MAX", 3)  # the rollup counts exactly past any cap
    api = api_as(alice)
    assert get(api)[1]["meta"]["pagination"]["total"] == {"count": 7, "exact": True}
    status, body = get(api, started_from="2025-03-01", started_to="2025-03-01")
    assert status == 200
    # 06:30 UTC + 0..6 hours is 12:00..18:00 in Kolkata: every call is on 1 March.
    assert body["meta"]["pagination"]["total"] == {"count": 7, "exact": True}
    assert get(api, started_from="2025-03-02")[1]["meta"]["pagination"]["total"] == {"count": 0, "exact": True}


@pytest.mark.postgres
def test_it_estimates_a_large_filtered_list_on_postgresql(api_as, alice, client_a, monkeypatch):
    Call.objects.bulk_create(
        Call(
            client=client_a,
            provider_call_id=f"bulk-{n}",
            direction="inbound",
            from_number="+919800000001",
            to_number="+918000000002",
            status="completed",
            started_at=START + timedelta(minutes=n),
            duration_seconds=n % 300,
        )
        for n in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE recordings_call")
    monkeypatch.setattr(selectors, "CALL_COUNT_EXACT_MAX", 100)

    total = selectors.call_count(client=client_a, filters={"status": "completed"})

    assert total.kind == "estimate" and 2000 <= total.count <= 4500  # the planner's rows, not a count
    assert get(api_as(alice), status="completed")[1]["meta"]["pagination"]["total"]["exact"] is False


@pytest.mark.parametrize(
    ("count", "label"),
    [
        (CallCount(0, "exact"), "0 calls"),
        (CallCount(1, "exact"), "1 call"),
        (CallCount(9876, "exact"), "9,876 calls"),
        (CallCount(12_437, "estimate"), "about 12,400 calls"),
        (CallCount(987_654, "estimate"), "about 988,000 calls"),
        (CallCount(10_001, "more_than"), "more than 10,000 calls"),
    ],
)
def test_it_words_the_total_as_a_person_would(count, label):
    assert total_label(count) == label


# --- the page --------------------------------------------------------------------------------------


def page_of(user, query: str = ""):
    browser = BrowserClient()
    browser.force_login(user)
    return browser.get(f"/calls/{query}")


def listed(response) -> list[str]:
    return re.findall(r'<tr data-call="([0-9a-f-]{36})">', response.content.decode())


def text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_page_sorts_by_the_column_headers(alice, sortable):
    newest = page_of(alice)
    assert listed(newest) == expected(sortable, "-started_at")
    assert 'aria-sort="descending"><a href="/calls/?ordering=started_at"' in newest.content.decode()
    assert 'aria-sort="none"><a href="/calls/?ordering=-duration_seconds"' in newest.content.decode()

    longest = page_of(alice, "?ordering=-duration_seconds&status=completed")
    assert listed(longest) == expected(sortable, "-duration_seconds")
    assert "Longest first." in text(longest)
    page = text(longest)
    assert 'href="/calls/?status=completed&ordering=duration_seconds" data-sort="duration_seconds"' in page
    assert 'href="/calls/?status=completed" data-sort="started_at"' in page  # back to the default order

    shortest = page_of(alice, "?ordering=duration_seconds&limit=3")
    assert listed(shortest) == expected(sortable, "duration_seconds")[:3]
    next_page = re.search(r'rel="next" href="([^"]+)"', shortest.content.decode()).group(1)
    assert (
        listed(page_of(alice, html.unescape(next_page)[len("/calls/") :]))
        == expected(sortable, "duration_seconds")[3:6]
    )


def test_the_page_shows_the_total_and_the_filters_in_force_each_clearable(alice, sortable):
    response = page_of(alice, "?status=completed&min_duration=60&q=%2B9198")
    page = text(response)

    assert response.status_code == 200
    assert "Matching: 4 calls" in page
    chips = dict(re.findall(r'data-chip="([^"]+)">[^<]*<strong>([^<]*)</strong>', page))
    assert chips == {"Status": "Completed", "Shortest duration (seconds)": "60", "Search": "+9198"}
    assert 'href="/calls/?min_duration=60&q=%2B9198" data-clear>' in page
    assert "Clear Status" in page
    assert 'value="+9198"' in page  # the search box shows what was searched
    assert "7 calls" in text(page_of(alice))


def test_the_page_names_fields_as_people_do(alice, sortable):
    dates = page_of(alice, "?started_from=2025-03-10&started_to=2025-03-01")
    typed = page_of(alice, "?max_duration=x")

    assert dates.status_code == typed.status_code == 400
    assert "Must not be before the “Started from” day." in text(dates)
    assert "Longest duration (seconds): A valid integer is required." in text(typed)
    for response in (dates, typed):
        shown = re.sub(r'(name|id|for|aria-describedby|href)="[^"]*"', "", text(response))
        assert "started_from" not in shown and "max_duration" not in shown


def test_the_api_keeps_field_keys_with_human_messages(api_as, alice, sortable):
    status, body = get(api_as(alice), started_from="2025-03-10", started_to="2025-03-01")

    assert status == 400
    assert body["error"]["details"] == {"started_to": ["Must not be before the “Started from” day."]}


def test_a_viewer_sees_no_play_link_and_no_export_button(client_a, sortable):
    Call.objects.filter(pk=sortable[0].pk).update(has_recording=True)
    viewer = UserFactory(client=client_a, role=Role.VIEWER)
    agent = UserFactory(client=client_a, role=Role.AGENT)

    as_viewer = page_of(viewer).content.decode()
    as_agent = page_of(agent).content.decode()

    assert "play-link" not in as_viewer and 'action="/calls/export/"' not in as_viewer
    assert f'href="/calls/{sortable[0].public_id}/#recording"' in as_agent
