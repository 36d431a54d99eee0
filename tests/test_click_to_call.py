"""Click-to-call from the pages: Exotel (the fake on 127.0.0.1) rings the agent's own registered number, then the
customer; the new call's page opens. Viewers neither see the button nor may post it; Exotel's refusal is shown
in words; the API's rate limit applies."""

from decimal import Decimal

import pytest

from accounts.models import MemberPhone
from accounts.roles import Role
from integrations.models import CallCustomer, CallMatch, ShopifyCustomer
from recordings.models import Call, Direction
from tests.exotel_fake import (
    ACCOUNT_SID,
    EXOPHONE,
    exotel_connection_fixture,  # noqa: F401
    exotel_fixture,  # noqa: F401
)
from tests.factories import CallFactory, UserFactory

pytestmark = pytest.mark.django_db
CONNECT = f"/v1/Accounts/{ACCOUNT_SID}/Calls/connect.json"
BOB_PHONE = "+919900011122"
CUSTOMER = "+919812345678"


@pytest.fixture
def missed_call(client_a):
    return CallFactory(client=client_a, direction=Direction.INBOUND, from_number=CUSTOMER, status="no-answer")


@pytest.fixture
def bob_phone(bob):
    return MemberPhone.objects.create(client=bob.client, user=bob, number=BOB_PHONE, label="Mobile")


def place(client, *, to=CUSTOMER, from_number=BOB_PHONE, back="/calls/missed/"):
    return client.post("/calls/place/", {"to": to, "from_number": from_number, "back": back})


def test_an_agent_calls_back_and_the_new_calls_page_opens(client, bob, bob_phone, exotel, exotel_connection):
    client.force_login(bob)

    response = place(client)

    call = Call.objects.get(direction=Direction.OUTBOUND)
    assert response.status_code == 302 and response["Location"] == f"/calls/{call.public_id}/"
    assert (call.from_number, call.to_number, call.agent, call.agent_number) == (BOB_PHONE, CUSTOMER, bob, BOB_PHONE)
    [request] = exotel.seen(CONNECT)
    assert (request.form["From"], request.form["To"], request.form["CallerId"]) == (BOB_PHONE, CUSTOMER, EXOPHONE)
    page = client.get(response["Location"]).content.decode()
    assert "Exotel is ringing your phone" in page


def test_the_call_page_offers_a_call_back_to_agents(client, bob, bob_phone, missed_call):
    client.force_login(bob)
    page = client.get(f"/calls/{missed_call.public_id}/").content.decode()
    assert "data-call-back" in page and f'name="to" value="{CUSTOMER}"' in page
    assert f'name="from_number" value="{BOB_PHONE}"' in page  # one number: nothing to choose


def test_several_numbers_are_offered_to_choose_from(client, bob, bob_phone, missed_call):
    MemberPhone.objects.create(client=bob.client, user=bob, number="+919811100000", label="Desk")
    client.force_login(bob)
    page = client.get(f"/calls/{missed_call.public_id}/").content.decode()
    assert '<select name="from_number"' in page and "+919811100000 (Desk)" in page


def test_without_a_number_the_page_says_where_to_register_one(client, bob, missed_call):
    client.force_login(bob)
    page = client.get(f"/calls/{missed_call.public_id}/").content.decode()
    assert "data-no-phone" in page and 'href="/settings/phones/"' in page and "data-click-to-call" not in page


def test_placing_without_a_number_sends_the_agent_to_register_one(client, bob, exotel, exotel_connection):
    client.force_login(bob)
    response = place(client)
    assert response.status_code == 302 and response["Location"] == "/settings/phones/"
    assert not exotel.seen(CONNECT) and not Call.objects.exists()


def test_a_number_that_is_not_ones_own_is_refused(client, alice, bob, bob_phone, exotel, exotel_connection):
    MemberPhone.objects.create(client=alice.client, user=alice, number="+919811100000")
    client.force_login(bob)
    response = place(client, from_number="+919811100000")
    assert response.status_code == 302 and response["Location"] == "/calls/missed/"
    assert not exotel.seen(CONNECT) and not Call.objects.exists()
    assert "Choose one of your registered numbers" in client.get("/calls/missed/").content.decode()


@pytest.mark.parametrize("to", ["12345", "", "+0912345678", "+91" + "9" * 20])
def test_a_bad_number_to_call_is_refused(client, bob, bob_phone, exotel, exotel_connection, to):
    client.force_login(bob)
    response = place(client, to=to)
    assert response.status_code == 302 and not exotel.seen(CONNECT) and not Call.objects.exists()


def test_an_outside_back_link_is_not_followed(client, bob, bob_phone, exotel, exotel_connection):
    client.force_login(bob)
    response = place(client, to="12345", back="https://evil.example/")
    assert response["Location"] == "/calls/missed/"
    response = place(client, to="12345", back="//evil.example/")
    assert response["Location"] == "/calls/missed/"


def test_exotels_refusal_is_shown_in_words(client, bob, bob_phone, exotel, exotel_connection):
    exotel.script(CONNECT, 400)
    client.force_login(bob)

    response = place(client, back="/calls/missed/")

    assert response.status_code == 302 and response["Location"] == "/calls/missed/"
    assert not Call.objects.exists()
    page = client.get("/calls/missed/").content.decode()
    assert "The call was not placed. Exotel did not place the call" in page


def test_without_exotel_the_agent_is_told_to_connect_it(client, bob, bob_phone):
    client.force_login(bob)
    place(client)
    assert "Exotel is not connected" in client.get("/calls/missed/").content.decode()


def test_a_viewer_cannot_place_calls_nor_sees_the_button(client, client_a, missed_call, exotel, exotel_connection):
    viewer = UserFactory(client=client_a, role=Role.VIEWER)
    MemberPhone.objects.create(client=client_a, user=viewer, number=BOB_PHONE)
    client.force_login(viewer)

    page = client.get(f"/calls/{missed_call.public_id}/").content.decode()
    assert "data-call-back" not in page and "data-click-to-call" not in page

    assert place(client).status_code == 403
    assert not exotel.seen(CONNECT) and Call.objects.count() == 1


@pytest.mark.parametrize("role", [Role.AGENT, Role.ADMIN, Role.OWNER])
def test_agents_and_up_may_place_calls(client, client_a, role, exotel, exotel_connection):
    member = UserFactory(client=client_a, role=role)
    MemberPhone.objects.create(client=client_a, user=member, number=BOB_PHONE)
    client.force_login(member)
    assert place(client)["Location"].startswith("/calls/")
    assert len(exotel.seen(CONNECT)) == 1


def test_placing_calls_is_rate_limited(client, bob, bob_phone, exotel, exotel_connection, monkeypatch, stopped_clock):
    monkeypatch.setattr("recordings.views.PLACE_CALL_RATE", "2/m")
    client.force_login(bob)
    place(client), place(client)

    response = place(client)

    assert response["Location"] == "/calls/missed/"
    assert len(exotel.seen(CONNECT)) == 2
    assert "Too many requests" in client.get("/calls/missed/").content.decode()


def test_the_signed_out_are_sent_to_sign_in(client):
    response = place(client)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_customer_card_offers_to_call_the_customers_own_number(client, bob, bob_phone):
    """A call linked to its customer through an order named on it, from another number: the card calls theirs."""
    call = CallFactory(client=bob.client, direction=Direction.INBOUND, from_number=CUSTOMER)
    customer = ShopifyCustomer.objects.create(
        client=bob.client,
        shopify_id=5000,
        first_name="Asha",
        phone="+919876543210",
        orders_count=1,
        total_spent=Decimal("10.00"),
        currency="INR",
    )
    CallCustomer.objects.update_or_create(
        call=call, defaults={"client": bob.client, "customer": customer, "match": CallMatch.ORDER, "phone": CUSTOMER}
    )
    client.force_login(bob)

    page = client.get(f"/calls/{call.public_id}/").content.decode()

    assert "data-card-call" in page and 'name="to" value="+919876543210"' in page
    assert f'name="to" value="{CUSTOMER}"' in page  # the call's own number, in the call-back card


def test_the_customer_page_offers_a_call_to_agents_only(client, client_a, bob, bob_phone):
    customer = ShopifyCustomer.objects.create(
        client=client_a, shopify_id=5001, first_name="Ravi", phone="+919876543210", currency="INR"
    )
    client.force_login(bob)
    page = client.get(f"/customers/{customer.public_id}/").content.decode()
    assert "data-card-call" in page and 'name="to" value="+919876543210"' in page

    client.force_login(UserFactory(client=client_a, role=Role.VIEWER))
    assert "data-card-call" not in client.get(f"/customers/{customer.public_id}/").content.decode()
