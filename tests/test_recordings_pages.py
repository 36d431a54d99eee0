"""The calls pages with Django's test client: the calls list, a call (the dashboard: tests/test_dashboard.py)."""

import html
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client as BrowserClient

from accounts.models import AuditAction, AuditEvent
from accounts.roles import Capability, Role, can
from caly.foundation.errors import DomainError, ErrorCode
from recordings import services
from recordings.demo import wav_tones
from recordings.models import Call, Recording, RecordingStatus
from tests.factories import UserFactory
from tests.s3 import local_storage  # noqa: F401

pytestmark = pytest.mark.django_db

# Wednesday 12 March 2025, 12:00 in Asia/Kolkata (the clients' default time zone, UTC+5:30).
NOW = datetime(2025, 3, 12, 6, 30, tzinfo=UTC)


def text(response) -> str:
    return html.unescape(response.content.decode())


def wav_bytes(seconds: int = 3) -> bytes:
    """The same mono 16-bit PCM WAV at 8 kHz (16,000 bytes a second) on every call."""
    return wav_tones(seconds=seconds, seed=7)


@pytest.fixture(autouse=True)
def _local_files(local_storage):  # noqa: F811
    """Recordings on local files under tmp_path."""


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


def store_recording(call: Call, seconds: int = 3) -> Recording:
    return services.recording_store(call=call, stream=io.BytesIO(wav_bytes(seconds)), content_type="audio/wav")


def member(client_a, role: Role):
    return UserFactory(email=f"{role}@acme.example", client=client_a, role=role)


def signed_in(user) -> BrowserClient:
    browser = BrowserClient()
    browser.force_login(user)
    return browser


def listed(response) -> list[str]:
    """The public ids of the calls in a list page, top to bottom."""
    return re.findall(r'<tr data-call="([0-9a-f-]{36})">', response.content.decode())


def link(response, rel: str) -> str | None:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', response.content.decode())
    return html.unescape(match.group(1)) if match else None


@pytest.fixture
def recorded_call(client_a):
    call = make_call(client_a, 1, NOW - timedelta(hours=2), notes="Asked about a refund.", transcript="Hello there.")
    store_recording(call)
    return call


# --- pages and roles -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_it_renders_every_page_for_each_role_with_its_controls(client_a, recorded_call, role):
    browser = signed_in(member(client_a, role))
    recording = Recording.objects.get(call=recorded_call)
    download = f"/api/v1/recordings/{recording.public_id}/download"

    dashboard = browser.get("/dashboard/")
    calls = browser.get("/calls/")
    detail = browser.get(f"/calls/{recorded_call.public_id}/")

    for response in (dashboard, calls, detail):
        assert response.status_code == 200
        page = text(response)
        assert 'href="/dashboard/"' in page and 'href="/calls/"' in page  # the nav links
        assert "<script>" not in page and "style=" not in page  # nothing inline under the CSP
    for part in ("figures", "chart", "agents"):
        assert f'data-async-src="/dashboard/parts/{part}?range=7d"' in dashboard.content.decode()
    assert listed(calls) == [str(recorded_call.public_id)]
    play_link = f'href="/calls/{recorded_call.public_id}/#recording"' in calls.content.decode()  # ▶ Play
    assert play_link == can(role, Capability.PLAY_RECORDINGS)
    assert ('action="/calls/export/"' in calls.content.decode()) == can(role, Capability.EXPORT_CALLS)

    page = text(detail)
    assert "+919800000001" in page and "Hello there." in page
    player = f'<audio class="player" controls preload="metadata" src="{download}">'
    if can(role, Capability.PLAY_RECORDINGS):
        assert player in page and f'href="{download}?disposition=attachment"' in page
        assert "data-recording-note" not in page
    else:
        assert "<audio" not in page and download not in page
        assert "cannot play or download recordings" in page
    if can(role, Capability.UPDATE_CALLS):
        assert f'action="/calls/{recorded_call.public_id}/update/"' in page
        assert "Asked about a refund.</textarea>" in page
    else:
        assert '<form method="post" action="/calls/' not in page
        assert "Asked about a refund." in page  # notes, read only


def test_it_plays_the_recording_through_the_api_with_the_session(client_a, recorded_call):
    recording = Recording.objects.get(call=recorded_call)
    url = f"/api/v1/recordings/{recording.public_id}/download"

    response = signed_in(member(client_a, Role.AGENT)).get(url, HTTP_RANGE="bytes=100-199")

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(wav_bytes())}"
    assert b"".join(response.streaming_content) == wav_bytes()[100:200]  # read to the end: closed
    assert signed_in(member(client_a, Role.VIEWER)).get(url).status_code == 403


def test_it_sends_client_users_from_home_to_the_dashboard(client_a, alice, client):
    assert client.get("/").status_code == 200  # anonymous visitors see the landing page

    response = signed_in(alice).get("/")

    assert response.status_code == 302 and response["Location"] == "/dashboard/"


def test_it_sends_anonymous_visitors_to_sign_in(client, recorded_call):
    for path in ("/dashboard/", "/calls/", f"/calls/{recorded_call.public_id}/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"
    # A part is fetched by script: it fails (and shows Retry) instead of following a redirect.
    assert client.get("/dashboard/parts/figures").status_code == 401


def test_it_refuses_the_pages_to_staff(staff, recorded_call):
    browser = signed_in(staff)
    for path in ("/dashboard/", "/dashboard/parts/figures", "/calls/", f"/calls/{recorded_call.public_id}/"):
        assert browser.get(path).status_code == 403


def test_it_shows_times_in_the_clients_time_zone(client_a, alice):
    make_call(client_a, 1, datetime(2025, 3, 15, 20, 0, tzinfo=UTC))  # 01:30 the next day in Kolkata

    page = text(signed_in(alice).get("/calls/"))

    assert "16 Mar 2025, 01:30" in page and "Asia/Kolkata" in page


# --- the list: filters ---------------------------------------------------------------------------


@pytest.fixture
def assorted(client_a, client_b):
    """Five calls of client A with different traits, and one of client B that matches everything."""
    base = datetime(2025, 3, 10, 6, 30, tzinfo=UTC)  # 12:00 in Kolkata
    calls = {
        "plain": make_call(client_a, 1, base),
        "outbound": make_call(
            client_a,
            2,
            base - timedelta(days=1),
            direction="outbound",
            from_number="+918047181234",
            to_number="+919811112222",
        ),
        "missed": make_call(
            client_a, 3, base - timedelta(days=2), status="no-answer", answered_at=None, duration_seconds=0
        ),
        "resolved": make_call(client_a, 4, base - timedelta(days=3), is_resolved=True),
        "recorded": make_call(client_a, 5, base - timedelta(days=4)),
    }
    store_recording(calls["recorded"])
    make_call(client_b, 6, base, direction="outbound", to_number="+919811112222", is_resolved=True)
    return {name: str(call.public_id) for name, call in calls.items()}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["plain", "outbound", "missed", "resolved", "recorded"]),
        ("direction=outbound", ["outbound"]),
        ("status=no-answer", ["missed"]),
        ("resolved=true", ["resolved"]),
        ("resolved=false", ["plain", "outbound", "missed", "recorded"]),
        ("has_recording=true", ["recorded"]),
        ("number_prefix=%2B9198111", ["outbound"]),
        ("number_prefix=%2B919811112222", ["outbound"]),
        ("started_from=2025-03-08&started_to=2025-03-09", ["outbound", "missed"]),
        ("started_to=2025-03-06", ["recorded"]),
        ("direction=inbound&resolved=false&has_recording=false", ["plain", "missed"]),
    ],
)
def test_it_narrows_the_list_with_filters(alice, assorted, query, expected):
    response = signed_in(alice).get(f"/calls/?{query}")

    assert response.status_code == 200
    assert listed(response) == [assorted[name] for name in expected]


def test_it_says_when_no_call_matches(alice, assorted):
    response = signed_in(alice).get("/calls/?status=busy")

    assert response.status_code == 200 and listed(response) == []
    assert "No calls match these filters." in text(response)


def test_it_drops_empty_filters_from_the_address(alice):
    response = signed_in(alice).get("/calls/?started_from=&started_to=&status=&direction=outbound&number_prefix=")

    assert response.status_code == 302 and response["Location"] == "/calls/?direction=outbound"


@pytest.mark.parametrize(
    ("query", "field", "problem"),
    [
        ("started_from=yesterday", "started_from", "Date has wrong format"),
        ("started_from=2025-03-10&started_to=2025-03-01", "started_to", "Must not be before the “Started from” day."),
        ("status=lost", "status", '"lost" is not a valid choice.'),
        ("direction=sideways", "direction", '"sideways" is not a valid choice.'),
        ("number_prefix=call-me", "number_prefix", "Digits with an optional leading +, at most 15."),
        ("resolved=perhaps", "resolved", "Must be a valid boolean."),
        (
            "min_duration=-5",
            None,
            "Shortest duration (seconds): Ensure this value is greater than or equal to 0.",
        ),
        ("min_duration=60&max_duration=30", None, "Longest duration (seconds): Must not be below the shortest"),
        (
            "ordering=loudest",
            "ordering",
            "Sort by one of: -started_at, started_at, -duration_seconds, duration_seconds.",
        ),
    ],
)
def test_it_shows_invalid_filters_with_a_400(alice, assorted, query, field, problem):
    response = signed_in(alice).get(f"/calls/?{query}")

    assert response.status_code == 400
    assert listed(response) == []
    page = text(response)
    assert problem in page
    if field:
        assert f'id="id_{field}_error"' in page
    assert "Correct the filters above to see the calls." in page


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("cursor=not-a-cursor", "Page link: Invalid cursor."),
        ("cursor=eyJwIjpbMSwyXSwiYiI6dHJ1ZX0", "Page link: Invalid cursor."),  # {"p":[1,2],"b":true}
        ("limit=0", "Rows per page: Must be a whole number from 1 to 1000."),
    ],
)
def test_it_answers_a_400_page_for_an_invalid_cursor_or_limit(alice, assorted, query, problem):
    response = signed_in(alice).get(f"/calls/?direction=inbound&{query}")

    assert response.status_code == 400
    assert problem in text(response) and "Start again from the newest calls" in text(response)
    assert listed(response) == []


# --- the list: pages -----------------------------------------------------------------------------


@pytest.fixture
def many(client_a, client_b):
    """Seven calls of A (two at the same instant, so the id breaks the tie) and three of B in between."""
    base = datetime(2025, 3, 10, 6, 30, tzinfo=UTC)
    a = [make_call(client_a, n, base - timedelta(hours=n)) for n in range(6)]
    a.append(make_call(client_a, 6, base - timedelta(hours=5)))
    for n in range(3):
        make_call(client_b, 10 + n, base - timedelta(hours=n, minutes=30))
    newest_first = sorted(a, key=lambda call: (call.started_at, call.pk), reverse=True)
    return [str(call.public_id) for call in newest_first]


def test_it_pages_older_and_newer_through_every_call_of_the_client_only(alice, many):
    browser = signed_in(alice)
    pages = []
    response = browser.get("/calls/?limit=3")
    assert link(response, "prev") is None
    while True:
        assert response.status_code == 200
        pages.append(listed(response))
        older = link(response, "next")
        if older is None:
            break
        assert parse_qs(urlsplit(older).query)["limit"] == ["3"]
        response = browser.get(older)

    assert pages == [many[0:3], many[3:6], many[6:7]]

    back = []
    while (newer := link(response, "prev")) is not None:
        response = browser.get(newer)
        back.append(listed(response))
    assert back == [many[3:6], many[0:3]]


def test_its_pages_keep_the_filters(alice, client_a):
    base = datetime(2025, 3, 10, 6, 30, tzinfo=UTC)
    outbound = [make_call(client_a, n, base - timedelta(hours=n), direction="outbound") for n in range(3)]
    make_call(client_a, 9, base - timedelta(minutes=30))  # inbound, between the outbound ones

    browser = signed_in(alice)
    first = browser.get("/calls/?direction=outbound&limit=2")
    older = link(first, "next")
    second = browser.get(older)

    assert parse_qs(urlsplit(older).query)["direction"] == ["outbound"]
    assert listed(first) + listed(second) == [str(call.public_id) for call in outbound]
    assert link(second, "next") is None


def test_its_cursors_are_the_apis(alice, many):
    browser = signed_in(alice)

    api = browser.get("/api/v1/calls?limit=3").json()
    page = browser.get(f"/calls/?limit=3&cursor={api['meta']['pagination']['next_cursor']}")
    assert listed(page) == many[3:6]

    cursor = parse_qs(urlsplit(link(page, "next")).query)["cursor"][0]
    api = browser.get(f"/api/v1/calls?limit=3&cursor={cursor}").json()
    assert [row["id"] for row in api["data"]] == many[6:7]


# --- one call ------------------------------------------------------------------------------------


def test_it_answers_404_for_another_clients_call(client_b, charlie, recorded_call):
    browser = signed_in(charlie)
    before = Call.objects.values().get(pk=recorded_call.pk)

    assert browser.get(f"/calls/{recorded_call.public_id}/").status_code == 404
    response = browser.post(f"/calls/{recorded_call.public_id}/update/", {"is_resolved": "on", "notes": "mine"})

    assert response.status_code == 404
    assert Call.objects.values().get(pk=recorded_call.pk) == before
    assert browser.get("/calls/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_it_saves_the_follow_up_and_audits_it(client_a, recorded_call):
    agent = member(client_a, Role.AGENT)
    browser = signed_in(agent)
    path = f"/calls/{recorded_call.public_id}/"

    response = browser.post(
        f"{path}update/", {"is_resolved": "on", "customer_satisfaction": "4", "notes": "Refund sent."}, follow=True
    )

    assert response.redirect_chain == [(path, 302)]
    assert "The call is saved." in text(response)
    recorded_call.refresh_from_db()
    assert (recorded_call.is_resolved, recorded_call.customer_satisfaction, recorded_call.notes) == (
        True,
        4,
        "Refund sent.",
    )
    event = AuditEvent.objects.get(action=AuditAction.CALL_UPDATED)
    assert event.actor == agent and event.client == client_a and event.target_id == str(recorded_call.public_id)
    assert event.metadata["is_resolved"] == {"old": "False", "new": "True"}
    assert event.metadata["customer_satisfaction"] == {"old": "None", "new": "4"}

    # Clearing the rating and the resolution works too.
    browser.post(f"{path}update/", {"customer_satisfaction": "", "notes": ""})
    recorded_call.refresh_from_db()
    assert (recorded_call.is_resolved, recorded_call.customer_satisfaction, recorded_call.notes) == (False, None, "")


def test_it_shows_the_follow_up_forms_errors(client_a, recorded_call):
    browser = signed_in(member(client_a, Role.ADMIN))

    response = browser.post(
        f"/calls/{recorded_call.public_id}/update/", {"customer_satisfaction": "9", "notes": "x" * 5001}
    )

    assert response.status_code == 200
    page = text(response)
    assert "Select a valid choice. 9 is not one of the available choices." in page
    assert "Ensure this value has at most 5000 characters (it has 5001)." in page
    recorded_call.refresh_from_db()
    assert recorded_call.customer_satisfaction is None and recorded_call.notes == "Asked about a refund."
    assert not AuditEvent.objects.filter(action=AuditAction.CALL_UPDATED).exists()


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            DomainError(ErrorCode.VALIDATION_ERROR, "The request is invalid.", details={"notes": ["Too rude."]}),
            "Too rude.",
        ),
        (DomainError(ErrorCode.CONFLICT, "Someone else changed this call."), "Someone else changed this call."),
    ],
)
def test_it_shows_the_services_refusal_on_the_form(client_a, recorded_call, monkeypatch, error, shown):
    def refuse(*, call, actor, **fields):
        call.is_resolved = True  # the service sets fields before it validates
        raise error

    monkeypatch.setattr(services, "call_update", refuse)

    response = signed_in(member(client_a, Role.AGENT)).post(
        f"/calls/{recorded_call.public_id}/update/", {"notes": "Rude words"}
    )

    assert response.status_code == 200
    assert shown in text(response)
    page = text(response)
    assert "Rude words</textarea>" in page  # what was typed stays in the form
    assert '<span class="badge badge-ok">Resolved</span>' not in page  # the call as saved, not as half-changed


def test_it_refuses_the_follow_up_to_a_viewer(client_a, recorded_call):
    response = signed_in(member(client_a, Role.VIEWER)).post(
        f"/calls/{recorded_call.public_id}/update/", {"is_resolved": "on"}
    )

    assert response.status_code == 403
    recorded_call.refresh_from_db()
    assert not recorded_call.is_resolved


@pytest.mark.parametrize(
    ("status", "shown"),
    [
        (RecordingStatus.FAILED, "Caly could not fetch this recording"),
        (RecordingStatus.PENDING, "The recording is on its way"),
        (None, "No recording for this call."),
    ],
)
def test_it_explains_a_call_without_a_playable_recording(client_a, alice, status, shown):
    call = make_call(client_a, 1, NOW)
    if status:
        Recording.objects.create(client=client_a, call=call, started_at=call.started_at, status=status)

    page = text(signed_in(alice).get(f"/calls/{call.public_id}/"))

    assert shown in page and "<audio" not in page
