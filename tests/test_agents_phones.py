"""Members' phone numbers: each member registers their own (E.164, unique within the company, a few each);
admins and owners manage everyone's. Bad input is a 4xx that stores nothing."""

import pytest

from accounts import jwt
from accounts.models import MAX_PHONES_PER_MEMBER, AuditAction, AuditEvent, MemberPhone
from accounts.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
BOB_PHONE = "+919900011122"


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


@pytest.fixture
def viewer(client_a):
    return UserFactory(email="vera@acme.example", first_name="Vera", client=client_a, role=Role.VIEWER)


def test_it_registers_ones_own_number_typed_in_the_national_form(as_user, bob):
    response = as_user(bob).post("/api/v1/me/phones", {"number": "099000 11122", "label": "Mobile"}, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()["data"]
    assert (data["number"], data["label"], data["member"]["id"]) == (BOB_PHONE, "Mobile", str(bob.public_id))
    phone = MemberPhone.objects.get()
    assert (phone.client, phone.user, phone.number) == (bob.client, bob, BOB_PHONE)
    event = AuditEvent.objects.get(action=AuditAction.PHONE_ADDED)
    assert (event.actor, event.target_id, event.metadata) == (bob, str(bob.public_id), {"number": BOB_PHONE})
    listed = as_user(bob).get("/api/v1/me/phones").json()["data"]
    assert [row["number"] for row in listed] == [BOB_PHONE]


def test_a_viewer_registers_their_number_too(as_user, viewer):
    assert as_user(viewer).post("/api/v1/me/phones", {"number": "+919811122233"}, format="json").status_code == 201


@pytest.mark.parametrize(
    "number",
    ["12345", "not a number", "+0123456789", "+91 12345", "9" * 65, "", "+1 202 555 01999"],
)
def test_it_refuses_what_is_not_a_phone_number_and_stores_nothing(as_user, bob, number):
    response = as_user(bob).post("/api/v1/me/phones", {"number": number}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "VALIDATION_ERROR"
    assert "number" in body["error"]["details"]
    assert not MemberPhone.objects.exists() and not AuditEvent.objects.filter(action=AuditAction.PHONE_ADDED).exists()


@pytest.mark.parametrize("body", [{}, {"number": 919900011122}, {"number": ["+919900011122"]}, "+919900011122"])
def test_it_refuses_malformed_bodies(as_user, bob, body):
    response = as_user(bob).post("/api/v1/me/phones", body, format="json")
    assert response.status_code == 400 and not MemberPhone.objects.exists()


def test_a_number_is_unique_within_the_company(as_user, alice, bob):
    assert as_user(bob).post("/api/v1/me/phones", {"number": BOB_PHONE}, format="json").status_code == 201

    again = as_user(bob).post("/api/v1/me/phones", {"number": "09900011122"}, format="json")
    taken = as_user(alice).post("/api/v1/me/phones", {"number": BOB_PHONE}, format="json")

    assert again.status_code == taken.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"
    assert "another member" in taken.json()["error"]["message"]
    assert list(MemberPhone.objects.values_list("user", flat=True)) == [bob.pk]


def test_another_company_may_register_the_same_number(as_user, bob, charlie):
    as_user(bob).post("/api/v1/me/phones", {"number": BOB_PHONE}, format="json")
    assert as_user(charlie).post("/api/v1/me/phones", {"number": BOB_PHONE}, format="json").status_code == 201
    assert MemberPhone.objects.count() == 2


def test_a_member_has_a_few_numbers_at_most(as_user, bob):
    for n in range(MAX_PHONES_PER_MEMBER):
        assert as_user(bob).post("/api/v1/me/phones", {"number": f"+91990001112{n}"}, format="json").status_code == 201

    response = as_user(bob).post("/api/v1/me/phones", {"number": "+919811100000"}, format="json")

    assert response.status_code == 400 and "at most" in response.json()["error"]["details"]["number"][0]
    assert MemberPhone.objects.count() == MAX_PHONES_PER_MEMBER


def test_a_member_removes_only_their_own_numbers(as_user, alice, bob):
    mine = MemberPhone.objects.create(client=bob.client, user=bob, number=BOB_PHONE)
    theirs = MemberPhone.objects.create(client=alice.client, user=alice, number="+919811122233")

    assert as_user(bob).delete(f"/api/v1/me/phones/{theirs.public_id}").status_code == 404
    assert as_user(bob).delete(f"/api/v1/me/phones/{mine.public_id}").status_code == 204

    assert list(MemberPhone.objects.all()) == [theirs]
    assert AuditEvent.objects.filter(action=AuditAction.PHONE_REMOVED, actor=bob).count() == 1


def test_admins_manage_every_members_numbers(as_user, alice, bob):
    response = as_user(alice).post(
        "/api/v1/team/phones", {"member": str(bob.public_id), "number": BOB_PHONE, "label": "Desk"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["data"]["member"]["email"] == bob.email
    phone = MemberPhone.objects.get(user=bob)

    listed = as_user(alice).get("/api/v1/team/phones").json()
    assert [row["number"] for row in listed["data"]] == [BOB_PHONE] and listed["meta"]["pagination"]["total"] == 1

    assert as_user(alice).delete(f"/api/v1/team/phones/{phone.public_id}").status_code == 204
    assert not MemberPhone.objects.exists()


def test_an_agent_cannot_manage_other_members_numbers(as_user, alice, bob):
    phone = MemberPhone.objects.create(client=alice.client, user=alice, number="+919811122233")
    api = as_user(bob)

    assert api.get("/api/v1/team/phones").status_code == 403
    assert api.post("/api/v1/team/phones", {"member": str(alice.public_id), "number": BOB_PHONE}).status_code == 403
    assert api.delete(f"/api/v1/team/phones/{phone.public_id}").status_code == 403
    assert MemberPhone.objects.count() == 1


def test_another_companys_member_is_refused_and_nothing_is_stored(as_user, alice, charlie):
    response = as_user(alice).post(
        "/api/v1/team/phones", {"member": str(charlie.public_id), "number": BOB_PHONE}, format="json"
    )
    assert response.status_code == 400 and "member" in response.json()["error"]["details"]
    assert not MemberPhone.objects.exists()


# --- the page --------------------------------------------------------------------------------------


def test_the_page_lists_my_numbers_and_adds_one(client, bob):
    client.force_login(bob)
    page = client.get("/settings/phones/")
    assert page.status_code == 200 and b"data-no-phones" in page.content
    assert b"Everyone's numbers" not in page.content and b'name="member"' not in page.content

    response = client.post("/settings/phones/", {"number": "+91 99000 11122", "label": "Mobile"})

    assert response.status_code == 302 and response["Location"] == "/settings/phones/"
    page = client.get("/settings/phones/")
    assert b'data-phone="+919900011122"' in page.content and b"Mobile" in page.content


def test_the_page_shows_a_bad_number_as_a_form_error(client, bob):
    client.force_login(bob)
    response = client.post("/settings/phones/", {"number": "12345"})
    assert response.status_code == 400 and b"Enter a valid phone number" in response.content
    assert not MemberPhone.objects.exists()


def test_the_page_shows_a_taken_number_as_a_form_error(client, alice, bob):
    MemberPhone.objects.create(client=alice.client, user=alice, number=BOB_PHONE)
    client.force_login(bob)
    response = client.post("/settings/phones/", {"number": BOB_PHONE})
    assert response.status_code == 400 and b"already registered to another member" in response.content
    assert MemberPhone.objects.count() == 1


def test_owners_see_and_add_every_members_numbers_on_the_page(client, alice, bob):
    client.force_login(alice)
    response = client.post("/settings/phones/", {"member": str(bob.public_id), "number": BOB_PHONE})
    assert response.status_code == 302
    assert MemberPhone.objects.get().user == bob
    page = client.get("/settings/phones/")
    assert b"Everyone's numbers" in page.content and b'name="member"' in page.content
    assert b'data-phone="+919900011122"' in page.content


def test_an_agent_cannot_remove_someone_elses_number_on_the_page(client, alice, bob):
    phone = MemberPhone.objects.create(client=alice.client, user=alice, number="+919811122233")
    client.force_login(bob)
    assert client.post(f"/settings/phones/{phone.public_id}/remove/").status_code == 404
    assert MemberPhone.objects.exists()


def test_an_agent_cannot_add_a_number_for_someone_else_on_the_page(client, alice, bob):
    client.force_login(bob)
    response = client.post("/settings/phones/", {"member": str(alice.public_id), "number": BOB_PHONE})
    assert response.status_code == 302
    assert MemberPhone.objects.get().user == bob  # the field is not offered to agents: the number is theirs
