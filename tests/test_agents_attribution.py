"""Calls are attributed to agents: inbound calls to the member whose number Exotel's Connect applet dialled
(DialWhomNumber), outbound ones to the member who placed them through Caly or whose number Exotel rang first
(From); otherwise only the agent side's number is kept, and registering it later links those calls. Deliveries
are the documented fixture payloads (tests/exotel_fake.py holds copies of shared/fixtures/exotel)."""

from urllib.parse import urlencode

import pytest

from accounts import jwt
from accounts.models import MemberPhone
from accounts.services import member_phone_add
from recordings.models import Call
from tests.exotel_fake import (
    ACCOUNT_SID,
    callback_path,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
    form,
    passthru,
    status_callback,
)
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db
FORM = "application/x-www-form-urlencoded"
BOB_PHONE = "+919900011122"  # DialWhomNumber 09900011122 of the Passthru fixture
# shared/fixtures/exotel/status_callback_no_answer.form, as Exotel posts it: an unanswered outbound call.
NO_ANSWER = (
    "CallSid=c0ffee0a7d2a4ba9bd8e3e5a2e41c1b2&Status=no-answer&DateUpdated=2026-11-20+15%3A00%3A05&RecordingUrl="
    "&From=09812345678&To=08047112233&Direction=outbound-api&EventType=terminal&StartTime=2026-11-20+14%3A59%3A20"
    "&EndTime=2026-11-20+15%3A00%3A05&ConversationDuration=0"
)


@pytest.fixture
def deliver(client, exotel_connection, django_capture_on_commit_callbacks):
    def _deliver(fields, *, kind="status_callback", raw=None):
        with django_capture_on_commit_callbacks(execute=True):
            if kind == "passthru":
                response = client.get(callback_path(exotel_connection, "passthru") + "?" + urlencode(fields))
            else:
                body = raw if raw is not None else form(fields)
                response = client.post(callback_path(exotel_connection), body, content_type=FORM)
        assert response.status_code == 200, response.content
        sid = fields["CallSid"] if fields else raw.split("&", 1)[0].removeprefix("CallSid=")
        return Call.objects.get(client=exotel_connection.client, provider_call_id=sid)

    return _deliver


@pytest.fixture
def bob_phone(bob):
    return MemberPhone.objects.create(client=bob.client, user=bob, number=BOB_PHONE)


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


def test_an_inbound_call_is_the_members_whose_number_exotel_dialled(deliver, bob, bob_phone):
    call = deliver(passthru(), kind="passthru")

    assert (call.agent, call.agent_number) == (bob, BOB_PHONE)
    assert call.from_number == "+919812345678"


def test_the_terminal_callback_after_the_passthru_keeps_the_agent(deliver, bob, bob_phone):
    deliver(passthru(), kind="passthru")
    call = deliver(status_callback(CallSid=passthru()["CallSid"], RecordingUrl=""))
    assert (call.agent, call.agent_number, call.status) == (bob, BOB_PHONE, "completed")


def test_the_last_agent_dialled_is_the_calls(deliver, alice, bob, bob_phone):
    MemberPhone.objects.create(client=alice.client, user=alice, number="+919811122233")
    deliver(passthru(DialWhomNumber="09811122233", CallType="incomplete"), kind="passthru")
    call = deliver(passthru(), kind="passthru")
    assert call.agent == bob


def test_an_unmatched_inbound_call_keeps_the_number_that_took_it(deliver):
    call = deliver(passthru(), kind="passthru")
    assert (call.agent, call.agent_number) == (None, BOB_PHONE)


def test_an_inbound_callback_without_connect_data_names_no_agent(deliver, bob_phone):
    call = deliver(status_callback(RecordingUrl=""))
    assert (call.agent, call.agent_number) == (None, "")


def test_an_outbound_call_is_the_members_whose_number_rang_first(deliver, alice):
    MemberPhone.objects.create(client=alice.client, user=alice, number="+919812345678")
    call = deliver(None, raw=NO_ANSWER)
    assert (call.direction, call.status) == ("outbound", "no-answer")
    assert (call.agent, call.agent_number) == (alice, "+919812345678")


def test_a_call_placed_through_caly_is_its_placers(as_user, bob, exotel, exotel_connection, deliver):
    MemberPhone.objects.create(client=bob.client, user=bob, number="+919811100000")
    response = as_user(bob).post("/api/v1/calls", {"to": "+919876543210", "from": BOB_PHONE}, format="json")
    assert response.status_code == 201
    call = Call.objects.get()
    assert (call.agent, call.agent_number) == (bob, BOB_PHONE)
    assert response.json()["data"]["agent"] == {
        "id": str(bob.public_id),
        "name": bob.get_full_name(),
        "number": BOB_PHONE,
    }

    # Exotel's terminal callback echoes From: the call stays its placer's.
    callback = status_callback(
        CallSid=call.provider_call_id, Direction="outbound-api", From=BOB_PHONE, To="+919876543210", RecordingUrl=""
    )
    assert deliver(callback).agent == bob


def test_registering_a_number_later_links_its_earlier_calls(deliver, bob, client_b):
    earlier = deliver(passthru(), kind="passthru")
    other_number = CallFactory(client=bob.client, agent_number="+919811122233")
    other_client = CallFactory(client=client_b, agent_number=BOB_PHONE)

    member_phone_add(actor=bob, member=bob, number=BOB_PHONE)

    earlier.refresh_from_db(), other_number.refresh_from_db(), other_client.refresh_from_db()
    assert earlier.agent == bob
    assert other_number.agent is None and other_client.agent is None


def test_the_call_page_names_the_agent(client, deliver, bob, bob_phone):
    call = deliver(passthru(), kind="passthru")
    client.force_login(bob)
    page = client.get(f"/calls/{call.public_id}/").content.decode()
    assert "data-agent" in page and bob.get_full_name() in page and BOB_PHONE in page


def test_the_call_page_shows_an_unmatched_agents_number(client, deliver, bob):
    call = deliver(passthru(), kind="passthru")
    client.force_login(bob)
    assert "no member has this number" in client.get(f"/calls/{call.public_id}/").content.decode()


# --- agent= ----------------------------------------------------------------------------------------


@pytest.fixture
def attributed(alice, bob, client_b, charlie):
    return {
        "bob": CallFactory(client=bob.client, agent=bob, agent_number=BOB_PHONE),
        "alice": CallFactory(client=alice.client, agent=alice),
        "nobody": CallFactory(client=alice.client),
        "charlie": CallFactory(client=client_b, agent=charlie),
    }


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["data"]}


def test_the_api_filters_by_agent(as_user, alice, bob, charlie, attributed):
    api = as_user(bob)
    ids = {name: str(call.public_id) for name, call in attributed.items()}

    assert _ids(api.get("/api/v1/calls", {"agent": "me"})) == {ids["bob"]}
    assert _ids(api.get("/api/v1/calls", {"agent": str(alice.public_id)})) == {ids["alice"]}
    assert _ids(api.get("/api/v1/calls", {"agent": "none"})) == {ids["nobody"]}
    assert _ids(api.get("/api/v1/calls", {"agent": str(charlie.public_id)})) == set()  # another company's member
    assert _ids(as_user(charlie).get("/api/v1/calls", {"agent": "me"})) == {ids["charlie"]}


@pytest.mark.parametrize("value", ["", "bob", "12", "00000000-0000-0000-0000-00000000000g", "x" * 37])
def test_a_bad_agent_is_a_400(as_user, bob, value):
    response = as_user(bob).get("/api/v1/calls", {"agent": value})
    assert response.status_code == 400 and "agent" in response.json()["error"]["details"]


def test_my_calls_page_lists_only_mine(client, bob, attributed):
    client.force_login(bob)
    page = client.get("/calls/", {"agent": "me"}).content.decode()
    assert f'data-call="{attributed["bob"].public_id}"' in page
    assert f'data-call="{attributed["alice"].public_id}"' not in page
    assert 'href="/calls/?agent=me" aria-current="page"' in page


def test_the_calls_page_offers_each_member_as_an_agent(client, alice, bob, attributed):
    client.force_login(alice)
    page = client.get("/calls/", {"agent": str(bob.public_id)}).content.decode()
    assert f'<option value="{bob.public_id}" selected>' in page
    assert (
        f'data-call="{attributed["bob"].public_id}"' in page
        and f'data-call="{attributed["alice"].public_id}"' not in page
    )


def test_the_calls_page_shows_a_bad_agent_as_a_form_error(client, bob):
    client.force_login(bob)
    assert client.get("/calls/", {"agent": "bob"}).status_code == 400


def test_the_connect_request_is_sent_to_the_fake_exotel(as_user, bob, exotel, exotel_connection):
    """The placed call went through the fake, with bob's number rung first."""
    as_user(bob).post("/api/v1/calls", {"to": "+919876543210", "from": BOB_PHONE}, format="json")
    [request] = exotel.seen(f"/v1/Accounts/{ACCOUNT_SID}/Calls/connect.json")
    assert request.form["From"] == BOB_PHONE
