"""Calls and recordings API: lists with filters and cursors, detail, updates, CSV export, stats."""

import csv
import io
import json
import zoneinfo
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from accounts import jwt
from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from recordings import services
from recordings.models import Call, Recording, RecordingStatus
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")


def make_call(client, n, *, started_at, **fields):
    defaults = {
        "provider_call_id": f"sid-{client.pk}-{n}",
        "direction": "inbound",
        "from_number": f"+9198{n:08d}",
        "to_number": "+918000000002",
        "status": "completed",
        "started_at": started_at,
        "answered_at": started_at + timedelta(seconds=5),
        "ended_at": started_at + timedelta(seconds=65),
        "duration_seconds": 60,
    }
    return services.call_create(client=client, **{**defaults, **fields})


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


@pytest.fixture
def calls(client_a, client_b):
    """Ten calls of client A, one a day back from yesterday noon (Kolkata), and two of client B."""
    noon = datetime.combine(timezone.localdate(timezone=KOLKATA) - timedelta(days=1), datetime.min.time())
    noon = noon.replace(hour=12, tzinfo=KOLKATA)
    made = [make_call(client_a, n, started_at=noon - timedelta(days=n)) for n in range(10)]
    Call.objects.filter(pk=made[1].pk).update(status="no-answer", answered_at=None, duration_seconds=0)
    Call.objects.filter(pk=made[2].pk).update(is_resolved=True, notes="Refund issued for order #1042")
    Call.objects.filter(pk=made[3].pk).update(direction="outbound", has_recording=True, duration_seconds=300)
    for n in range(2):
        make_call(client_b, 100 + n, started_at=noon)
    return made


def get(api, path, **params):
    response = api.get(f"/api/v1/{path}", params)
    return response.status_code, json.loads(response.content)


def test_it_lists_calls_newest_first_with_a_cursor(as_user, alice, calls):
    api = as_user(alice)
    status, body = get(api, "calls", limit=4)
    assert status == 200 and [c["id"] for c in body["data"]] == [str(c.public_id) for c in calls[:4]]
    seen = [c["id"] for c in body["data"]]
    while body["meta"]["pagination"]["has_more"]:
        status, body = get(api, "calls", limit=4, cursor=body["meta"]["pagination"]["next_cursor"])
        seen += [c["id"] for c in body["data"]]
    assert seen == [str(c.public_id) for c in calls]  # all of A's, none of B's


def test_it_shows_the_same_call_shape_as_its_serializer(as_user, alice, calls):
    from recordings.api.serializers import CallSerializer

    _, body = get(as_user(alice), "calls", limit=1)
    expected = json.loads(json.dumps(CallSerializer(calls[0]).data))
    assert body["data"][0] == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "no-answer"}, [1]),
        ({"direction": "outbound"}, [3]),
        ({"resolved": "true"}, [2]),
        ({"has_recording": "true"}, [3]),
        ({"min_duration": "200"}, [3]),
        ({"max_duration": "0"}, [1]),
        ({"number": "+919800000004"}, [4]),
        ({"number_prefix": "+91980000000"}, list(range(10))),
        ({"number_prefix": "+919800000005"}, [5]),
        ({"q": "refund"}, [2]),
        ({"q": "+9198000000"}, list(range(10))),
    ],
)
def test_it_filters_calls(as_user, alice, calls, params, expected):
    _, body = get(as_user(alice), "calls", **params)
    assert [c["id"] for c in body["data"]] == [str(calls[n].public_id) for n in expected]


def test_it_filters_by_local_days_in_the_client_time_zone(as_user, alice, calls):
    day = timezone.localtime(calls[2].started_at, KOLKATA).date()
    _, body = get(as_user(alice), "calls", started_from=day.isoformat(), started_to=day.isoformat())
    assert [c["id"] for c in body["data"]] == [str(calls[2].public_id)]
    _, body = get(as_user(alice), "calls", started_from=(day - timedelta(days=1)).isoformat(), started_to=day)
    assert len(body["data"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"status": "exploded"},
        {"direction": "sideways"},
        {"number": "98000"},
        {"number_prefix": "abc"},
        {"number_prefix": "' OR 1=1 --"},
        {"resolved": "perhaps"},
        {"min_duration": "-1"},
        {"started_from": "2026-13-01"},
        {"started_from": "2026-02-10", "started_to": "2026-02-01"},
        {"q": "x" * 101},
        {"limit": "1001"},
        {"cursor": "not-a-cursor"},
    ],
)
def test_it_rejects_bad_call_filters_with_400(as_user, alice, calls, params):
    status, body = get(as_user(alice), "calls", **params)
    assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR"


def test_it_shows_a_call_with_its_recordings(as_user, alice, calls):
    Recording.objects.create(
        client=alice.client,
        call=calls[3],
        started_at=calls[3].started_at,
        status=RecordingStatus.STORED,
        storage_key="recordings/x.mp3",
        content_type="audio/mpeg",
        size_bytes=10,
        source_url="https://secret.example/r.mp3",
    )
    status, body = get(as_user(alice), f"calls/{calls[3].public_id}")
    data = body["data"]
    assert status == 200 and data["direction"] == "outbound" and len(data["recordings"]) == 1
    assert data["recordings"][0]["download_url"].endswith("/download")
    assert "secret.example" not in json.dumps(body) and "storage_key" not in json.dumps(body)


def test_it_hides_other_clients_calls(as_user, charlie, calls):
    status, body = get(as_user(charlie), f"calls/{calls[0].public_id}")
    assert status == 404 and body["error"]["code"] == "NOT_FOUND"
    _, listed = get(as_user(charlie), "calls")
    assert len(listed["data"]) == 2


def test_it_lets_agents_update_a_call_and_audits_it(as_user, bob, calls):
    response = as_user(bob).patch(
        f"/api/v1/calls/{calls[0].public_id}",
        {"is_resolved": True, "customer_satisfaction": 4, "notes": "Sorted <b>quickly</b>", "status": "failed"},
        format="json",
    )
    data = json.loads(response.content)["data"]
    assert response.status_code == 200 and data["is_resolved"] and data["customer_satisfaction"] == 4
    assert data["status"] == "completed" and data["notes"] == "Sorted <b>quickly</b>"
    event = AuditEvent.objects.get(action=AuditAction.CALL_UPDATED)
    assert event.actor == bob and event.metadata["customer_satisfaction"] == {"old": "None", "new": "4"}


@pytest.mark.parametrize("change", [{"customer_satisfaction": 6}, {"customer_satisfaction": 0}, {"notes": "x" * 5001}])
def test_it_rejects_bad_call_updates(as_user, bob, calls, change):
    response = as_user(bob).patch(f"/api/v1/calls/{calls[0].public_id}", change, format="json")
    assert response.status_code == 400
    calls[0].refresh_from_db()
    assert calls[0].customer_satisfaction is None and calls[0].notes == ""


def test_it_refuses_updates_to_viewers(as_user, client_a, calls):
    viewer = UserFactory(client=client_a, role=Role.VIEWER)
    response = as_user(viewer).patch(f"/api/v1/calls/{calls[0].public_id}", {"is_resolved": True}, format="json")
    assert response.status_code == 403


def test_it_exports_filtered_calls_as_csv_without_formulas(as_user, alice, calls):
    Call.objects.filter(pk=calls[0].pk).update(notes='=HYPERLINK("http://evil")')
    response = as_user(alice).get("/api/v1/calls/export", {"direction": "inbound"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "id" and len(rows) == 1 + 9
    assert rows[1][0] == str(calls[0].public_id) and rows[1][-1].startswith("'=")
    assert rows[1][3] == calls[0].from_number and rows[1][3].startswith("+91")  # E.164: a number, not a formula
    assert "+05:30" in rows[1][1]  # times in the client's zone


def test_it_caps_and_rate_limits_exports(as_user, alice, calls, settings):
    settings.CALL_EXPORT_MAX_ROWS = 3
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "export_user": "2/h"}
    api = as_user(alice)
    first = api.get("/api/v1/calls/export")
    assert len(b"".join(first.streaming_content).decode().strip().splitlines()) == 1 + 3
    assert api.get("/api/v1/calls/export").status_code == 200
    third = api.get("/api/v1/calls/export")
    assert third.status_code == 429 and json.loads(third.content)["error"]["code"] == "RATE_LIMITED"


def test_it_refuses_exports_to_agents(as_user, bob, calls):
    assert as_user(bob).get("/api/v1/calls/export").status_code == 403


def test_it_summarises_a_range_of_days(as_user, alice, calls):
    Call.objects.filter(pk=calls[0].pk).update(customer_satisfaction=5)
    Recording.objects.create(
        client=alice.client, call=calls[0], started_at=calls[0].started_at, status=RecordingStatus.STORED
    )
    last = timezone.localtime(calls[0].started_at, KOLKATA).date()
    status, body = get(as_user(alice), "stats/summary", started_from=last - timedelta(days=6), started_to=last)
    data = body["data"]
    assert status == 200 and data["calls"] == 7 and data["answered"] == 6
    assert data["answered_rate"] == round(6 / 7, 4) and data["resolved_rate"] == round(1 / 7, 4)
    assert data["recordings_stored"] == 1 and data["average_satisfaction"] == 5.0
    assert [d["calls"] for d in data["calls_per_day"]] == [1] * 7
    assert data["calls_per_day"][-1]["date"] == last.isoformat()


def test_it_defaults_the_summary_to_the_last_seven_days(as_user, alice, calls):
    _, body = get(as_user(alice), "stats/summary")
    assert len(body["data"]["calls_per_day"]) == 7 and body["data"]["calls"] == 6


@pytest.mark.parametrize(
    "params",
    [
        {"started_from": "2026-01-10", "started_to": "2026-01-01"},
        {"started_from": "x"},
        {"started_from": "2020-01-01", "started_to": "2026-01-01"},
    ],
)
def test_it_rejects_bad_summary_ranges(as_user, alice, params):
    assert get(as_user(alice), "stats/summary", **params)[0] == 400


def test_it_lists_recordings_without_deleted_ones(as_user, alice, calls):
    for n, state in ((0, RecordingStatus.STORED), (1, RecordingStatus.FAILED), (2, RecordingStatus.DELETED)):
        Recording.objects.create(client=alice.client, call=calls[n], started_at=calls[n].started_at, status=state)
    _, body = get(as_user(alice), "recordings")
    assert [r["call_id"] for r in body["data"]] == [str(calls[0].public_id), str(calls[1].public_id)]
    _, failed = get(as_user(alice), "recordings", status="failed")
    assert [r["call_id"] for r in failed["data"]] == [str(calls[1].public_id)]
    assert get(as_user(alice), "recordings", status="lost")[0] == 400


def test_an_empty_day_range_is_an_empty_last_page(as_user, alice, calls):
    _, body = get(as_user(alice), "calls", started_from=date(2001, 1, 1), started_to=date(2001, 1, 2))
    assert body["data"] == [] and body["meta"]["pagination"]["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [{"started_to": "9999-12-31"}, {"started_from": "0001-01-01"}, {"q": "ab"}],
)
def test_it_rejects_out_of_range_days_and_short_searches(as_user, alice, calls, params):
    assert get(as_user(alice), "calls", **params)[0] == 400
    assert get(as_user(alice), "recordings", **{k: v for k, v in params.items() if k != "q"})[0] in (200, 400)


def test_it_rejects_summary_days_near_the_calendar_edges(as_user, alice):
    assert get(as_user(alice), "stats/summary", started_to="0001-01-02")[0] == 400


def test_it_audits_every_export_with_its_filters(as_user, alice, calls):
    response = as_user(alice).get("/api/v1/calls/export", {"direction": "inbound"})
    b"".join(response.streaming_content)
    event = AuditEvent.objects.get(action=AuditAction.CALLS_EXPORTED)
    assert event.actor == alice and event.metadata["direction"] == "inbound"


def test_it_refuses_session_users_of_a_deactivated_client(client, alice, calls):
    from accounts.models import Client

    client.force_login(alice)
    assert client.get("/api/v1/calls").status_code == 200
    Client.objects.filter(pk=alice.client_id).update(is_active=False)
    response = client.get("/api/v1/calls")
    assert response.status_code == 403 and json.loads(response.content)["error"]["code"] == "PERMISSION_DENIED"
