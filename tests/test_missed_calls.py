"""Missed calls to ring back: inbound calls missed, unanswered or busy and not followed by an answered call with
that number (either direction), one row per number; the page, the API list and the count."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import jwt
from accounts.models import MemberPhone
from recordings import selectors, services
from recordings.models import Call, CallStatus, Direction, MissedCall
from tests.factories import CallFactory, UserFactory

pytestmark = pytest.mark.django_db
CUSTOMER = "+919812345678"
EXOPHONE = "+918047112233"


def missed(client, *, minutes_ago: int, number: str = CUSTOMER, status: str = CallStatus.NO_ANSWER) -> Call:
    return CallFactory(
        client=client,
        direction=Direction.INBOUND,
        from_number=number,
        to_number=EXOPHONE,
        status=status,
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def answered(client, *, minutes_ago: int, number: str = CUSTOMER, direction: str = Direction.INBOUND) -> Call:
    inbound = direction == Direction.INBOUND
    return CallFactory(
        client=client,
        direction=direction,
        from_number=number if inbound else "+919900011122",
        to_number=EXOPHONE if inbound else number,
        status=CallStatus.COMPLETED,
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def rows(client) -> list[tuple[str, int]]:
    return [(row.number, row.attempts) for row in selectors.missed_call_list(client=client).order_by("-last_missed_at")]


@pytest.mark.parametrize("status", [CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED])
def test_an_inbound_call_nobody_took_is_to_ring_back(client_a, status):
    call = missed(client_a, minutes_ago=5, status=status)
    row = MissedCall.objects.get()
    assert (row.number, row.call, row.attempts, row.last_missed_at) == (CUSTOMER, call, 1, call.started_at)
    assert selectors.missed_call_count(client=client_a) == 1


@pytest.mark.parametrize(
    "status", [CallStatus.COMPLETED, CallStatus.QUEUED, CallStatus.RINGING, CallStatus.IN_PROGRESS]
)
def test_answered_or_live_calls_are_not_missed(client_a, status):
    missed(client_a, minutes_ago=5, status=status)
    assert rows(client_a) == []


def test_an_outbound_call_that_was_not_answered_is_not_a_missed_call(client_a):
    CallFactory(client=client_a, direction=Direction.OUTBOUND, to_number=CUSTOMER, status=CallStatus.NO_ANSWER)
    assert rows(client_a) == []


def test_one_row_per_number_with_the_latest_call_and_the_tries(client_a):
    missed(client_a, minutes_ago=30)
    latest = missed(client_a, minutes_ago=10, status=CallStatus.BUSY)
    missed(client_a, minutes_ago=20, number="+919811122233")

    assert rows(client_a) == [(CUSTOMER, 2), ("+919811122233", 1)]
    row = MissedCall.objects.get(number=CUSTOMER)
    assert row.call == latest and row.first_missed_at < row.last_missed_at


@pytest.mark.parametrize("direction", [Direction.INBOUND, Direction.OUTBOUND])
def test_an_answered_call_later_removes_it(client_a, direction):
    missed(client_a, minutes_ago=30)
    answered(client_a, minutes_ago=10, direction=direction)
    assert rows(client_a) == []
    assert selectors.missed_call_count(client=client_a) == 0


def test_an_answered_call_before_the_missed_one_does_not_remove_it(client_a):
    answered(client_a, minutes_ago=60)
    missed(client_a, minutes_ago=40)
    missed(client_a, minutes_ago=30)
    assert rows(client_a) == [(CUSTOMER, 2)]


def test_a_call_back_that_was_not_answered_leaves_it(client_a):
    missed(client_a, minutes_ago=30)
    CallFactory(
        client=client_a,
        direction=Direction.OUTBOUND,
        to_number=CUSTOMER,
        status=CallStatus.NO_ANSWER,
        started_at=timezone.now(),
    )
    assert rows(client_a) == [(CUSTOMER, 1)]


def test_a_call_back_that_ends_answered_removes_it_as_the_status_moves(client_a):
    missed(client_a, minutes_ago=30)
    back = CallFactory(
        client=client_a,
        direction=Direction.OUTBOUND,
        to_number=CUSTOMER,
        status=CallStatus.QUEUED,
        started_at=timezone.now(),
    )
    assert rows(client_a) == [(CUSTOMER, 1)]

    back.status, back.answered_at = CallStatus.COMPLETED, timezone.now()
    back.save(update_fields=["status", "answered_at"])

    assert rows(client_a) == []


def test_a_missed_call_arriving_late_counts_in_order(client_a):
    answered(client_a, minutes_ago=10)
    missed(client_a, minutes_ago=20)  # delivered after the answered call, but earlier: already answered since
    assert rows(client_a) == []


def test_calls_of_other_clients_never_count(client_a, client_b):
    missed(client_a, minutes_ago=30)
    answered(client_b, minutes_ago=10)  # B answered the same number: A still has to ring back
    missed(client_b, minutes_ago=5, number="+919811122233")

    assert rows(client_a) == [(CUSTOMER, 1)]
    assert rows(client_b) == [("+919811122233", 1)]
    assert selectors.missed_call_count(client=client_a) == selectors.missed_call_count(client=client_b) == 1


def test_masking_a_number_removes_its_row(client_a):
    missed(client_a, minutes_ago=30)
    services.calls_number_mask(client=client_a, numbers=[CUSTOMER])
    assert rows(client_a) == []


def test_a_rebuild_after_bulk_writes_finds_the_same_rows(client_a):
    missed(client_a, minutes_ago=30)
    missed(client_a, minutes_ago=20)
    Call.objects.bulk_create(
        [
            Call(
                client=client_a,
                provider_call_id="bulk-1",
                direction=Direction.INBOUND,
                from_number="+919811122233",
                to_number=EXOPHONE,
                status=CallStatus.BUSY,
                started_at=timezone.now(),
            )
        ]
    )
    assert rows(client_a) == [(CUSTOMER, 2)]  # bulk writes send no post_save

    assert services.missed_calls_rebuild(client=client_a) == 2
    assert rows(client_a) == [("+919811122233", 1), (CUSTOMER, 2)]


# --- the API ---------------------------------------------------------------------------------------


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


def test_the_api_lists_numbers_to_ring_back_keyset_paginated(as_user, bob, client_b):
    calls = [missed(bob.client, minutes_ago=60 - n, number=f"+91981112223{n}") for n in range(3)]
    missed(client_b, minutes_ago=1)

    first = as_user(bob).get("/api/v1/calls/missed", {"limit": 2}).json()
    assert [row["number"] for row in first["data"]] == ["+919811122232", "+919811122231"]
    assert first["data"][0] == {
        "number": "+919811122232",
        "call_id": str(calls[2].public_id),
        "status": "no-answer",
        "last_missed_at": first["data"][0]["last_missed_at"],
        "first_missed_at": first["data"][0]["first_missed_at"],
        "attempts": 1,
    }
    assert first["meta"]["pagination"]["has_more"] is True
    cursor = first["meta"]["pagination"]["next_cursor"]
    second = as_user(bob).get("/api/v1/calls/missed", {"limit": 2, "cursor": cursor}).json()
    assert [row["number"] for row in second["data"]] == ["+919811122230"]
    assert second["meta"]["pagination"]["has_more"] is False


@pytest.mark.parametrize("query", [{"cursor": "nonsense"}, {"limit": "0"}, {"limit": "abc"}, {"limit": "100000"}])
def test_bad_paging_is_a_400(as_user, bob, query):
    assert as_user(bob).get("/api/v1/calls/missed", query).status_code == 400


def test_a_viewer_reads_the_list(as_user, client_a):
    viewer = UserFactory(client=client_a)
    missed(client_a, minutes_ago=3)
    assert len(as_user(viewer).get("/api/v1/calls/missed").json()["data"]) == 1


# --- the page --------------------------------------------------------------------------------------


def test_the_page_lists_numbers_with_a_call_back_button(client, bob):
    MemberPhone.objects.create(client=bob.client, user=bob, number="+919900011122")
    missed(bob.client, minutes_ago=30)
    missed(bob.client, minutes_ago=20)
    client.force_login(bob)

    page = client.get("/calls/missed/").content.decode()

    assert f'data-missed="{CUSTOMER}"' in page and "1 number to ring back" in page
    assert "data-click-to-call" in page and f'name="to" value="{CUSTOMER}"' in page
    assert "data-attempts>2" in page


def test_the_page_says_when_there_is_nothing_to_ring_back(client, bob):
    client.force_login(bob)
    assert "data-no-missed" in client.get("/calls/missed/").content.decode()


def test_a_viewer_sees_the_list_without_call_back_buttons(client, client_a):
    viewer = UserFactory(client=client_a)
    missed(client_a, minutes_ago=3)
    client.force_login(viewer)
    page = client.get("/calls/missed/").content.decode()
    assert f'data-missed="{CUSTOMER}"' in page and "data-click-to-call" not in page and "data-no-phone" not in page


def test_the_page_pages_with_cursors_and_refuses_a_bad_one(client, bob):
    for n in range(3):
        missed(bob.client, minutes_ago=60 - n, number=f"+91981112223{n}")
    client.force_login(bob)
    page = client.get("/calls/missed/", {"limit": 2}).content.decode()
    assert "+919811122230" not in page and 'rel="next"' in page
    assert client.get("/calls/missed/", {"cursor": "nonsense"}).status_code == 400
