"""Nobody learns whether an address has a Caly account: sign-up, invitations and e-mailed links answer
alike for every address, and the person who owns the address is told by e-mail instead."""

import json
import re
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client as BrowserClient
from django_tasks_db.models import DBTaskResult

from accounts import jwt
from accounts.models import Client, Invitation, User
from accounts.roles import Role
from tests.factories import PASSWORD, StaffFactory, UserFactory

SIGNUP = {
    "company_name": "Chai Point",
    "first_name": "Asha",
    "last_name": "Rao",
    "password": "a-strong-pass-phrase-9",
}


def api_post(api, path, payload, user=None):
    if user is not None:
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
    response = api.post(f"/api/v1/{path}", payload, format="json")
    api.credentials()
    return response, json.loads(response.content)


def without_request_id(body: dict) -> dict:
    return {key: value for key, value in body.items() if key != "meta"}


# --- sign-up --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_answers_a_sign_up_with_a_taken_address_like_one_with_a_new_address(api, alice):
    new, new_body = api_post(api, "auth/register", {**SIGNUP, "email": "founder@chaipoint.example"})
    taken, taken_body = api_post(api, "auth/register", {**SIGNUP, "email": "ALICE@acme.example"})

    assert new.status_code == taken.status_code == 201, (new_body, taken_body)
    assert without_request_id(new_body) == without_request_id(taken_body)
    assert "alice" not in json.dumps(taken_body).lower() and "acme" not in json.dumps(taken_body).lower()


@pytest.mark.django_db
def test_a_sign_up_with_a_taken_address_changes_nothing_and_tells_the_owner(api, alice):
    api_post(api, "auth/register", {**SIGNUP, "email": "Alice@Acme.example"})

    assert Client.objects.count() == 1 and User.objects.count() == 1
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD) and alice.client.name == "Acme Apparel"
    [message] = mail.outbox
    assert message.to == [alice.email]
    assert "tried to create a Caly account with your email address" in " ".join(message.body.split())
    assert "/accounts/login/" in message.body and "/accounts/password/reset/" in message.body
    assert "/accounts/verify/" not in message.body  # no link that would confirm someone else's sign-up


@pytest.mark.django_db
def test_bad_input_gets_the_same_answer_for_a_taken_and_a_new_address(api, alice):
    weak = {**SIGNUP, "password": "12345678"}
    new, new_body = api_post(api, "auth/register", {**weak, "email": "founder@chaipoint.example"})
    taken, taken_body = api_post(api, "auth/register", {**weak, "email": alice.email})

    assert new.status_code == taken.status_code == 400
    assert new_body["error"] == taken_body["error"]
    assert not mail.outbox


@pytest.mark.django_db
def test_the_sign_up_page_answers_a_taken_address_like_a_new_one(alice):
    answers = []
    for email in ("founder@chaipoint.example", "alice@acme.example"):
        browser = BrowserClient()
        response = browser.post("/accounts/signup/", {**SIGNUP, "email": email}, follow=True)
        assert response.redirect_chain == [("/accounts/signup/done/", 302)]
        page = response.content.decode()
        answers.append(page.replace(email, "ADDRESS").replace(email.replace("@", "%40"), "ADDRESS"))

    assert answers[0] == answers[1]
    assert User.objects.filter(email="founder@chaipoint.example").exists()
    assert Client.objects.count() == 2  # Acme's and the new sign-up's; none for the taken address
    assert [message.to for message in mail.outbox] == [["founder@chaipoint.example"], ["alice@acme.example"]]


# --- invitations ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_inviting_another_clients_user_answers_like_inviting_a_new_address(api, alice, charlie):
    new, new_body = api_post(api, "team/invitations", {"email": "dana@example.com", "role": "agent"}, user=alice)
    taken, taken_body = api_post(api, "team/invitations", {"email": charlie.email, "role": "agent"}, user=alice)

    assert new.status_code == taken.status_code == 201, taken_body
    assert taken_body["data"]["status"] == new_body["data"]["status"] == "pending"
    assert set(taken_body["data"]) == set(new_body["data"])
    listed = {row["email"]: row["status"] for row in api_post_list(api, alice)}
    assert listed == {"dana@example.com": "pending", charlie.email: "pending"}


def api_post_list(api, user):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
    response = api.get("/api/v1/team/invitations")
    api.credentials()
    return json.loads(response.content)["data"]


@pytest.mark.django_db
def test_the_invited_user_of_another_client_is_told_what_to_do_and_stays_where_they_are(api, alice, charlie):
    api_post(api, "team/invitations", {"email": "Charlie@Bolt.example", "role": "admin"}, user=alice)

    [message] = mail.outbox
    assert message.to == [charlie.email] and "Acme Apparel" in message.subject
    assert "already belongs to a Caly account of another company" in message.body
    assert "with another address of yours" in message.body and "have your existing account removed" in message.body
    assert "/accounts/invitations/" not in message.body  # nothing to accept: the account stays where it is
    charlie.refresh_from_db()
    assert (charlie.client.slug, charlie.role) == ("bolt-books", Role.OWNER)


@pytest.mark.django_db
def test_inviting_a_staff_address_answers_like_a_new_address(api, alice):
    staff = StaffFactory(email="ops@caly.example")

    response, body = api_post(api, "team/invitations", {"email": staff.email, "role": "viewer"}, user=alice)

    assert response.status_code == 201 and body["data"]["status"] == "pending"
    staff.refresh_from_db()
    assert staff.client is None and staff.is_staff


@pytest.mark.django_db
def test_the_team_page_answers_an_invitation_to_another_clients_user_like_any_other(client, alice, charlie):
    client.force_login(alice)

    response = client.post("/accounts/team/", {"email": charlie.email, "role": Role.AGENT}, follow=True)

    assert response.redirect_chain == [("/accounts/team/", 302)]
    assert f"Invitation sent to {charlie.email}." in response.content.decode()


@pytest.mark.django_db
def test_inviting_someone_already_in_the_own_team_is_still_refused(api, alice, bob):
    response, body = api_post(api, "team/invitations", {"email": bob.email, "role": "viewer"}, user=alice)

    assert response.status_code == 409 and body["error"]["code"] == "CONFLICT"
    assert body["error"]["message"] == "This person is already a member of your team."
    assert not Invitation.objects.exists() and not mail.outbox


@pytest.mark.django_db
def test_accepting_never_moves_an_account_from_another_client(api, alice, client_b):
    api_post(api, "team/invitations", {"email": "dana@example.com", "role": "agent"}, user=alice)
    token = re.search(r"/accounts/invitations/([^/\s]+)/", mail.outbox[0].body).group(1)
    dana = UserFactory(email="dana@example.com", client=client_b, role=Role.AGENT)  # joined B meanwhile

    response, body = api_post(api, "auth/invitations/accept", {"token": token, "password": "joining-pass-phrase-3"})

    assert response.status_code == 409 and body["error"]["code"] == "CONFLICT"
    assert "another company" in body["error"]["message"]
    dana.refresh_from_db()
    assert dana.client == client_b and dana.check_password(PASSWORD)
    assert Invitation.objects.get().status == "pending"


# --- e-mailed links: the request does the same work for every address ---------------------------


@pytest.fixture
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def queued_by(send) -> list[str]:
    """The tasks one request queued."""
    before = set(DBTaskResult.objects.values_list("id", flat=True))
    send()
    return sorted(DBTaskResult.objects.exclude(id__in=before).values_list("task_path", flat=True))


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0, stdout=StringIO())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["api", "page"])
def test_a_reset_request_queues_the_same_work_for_known_and_unknown_addresses(database_queue, api, alice, channel):
    def ask(email):
        if channel == "api":
            return lambda: api.post("/api/v1/auth/password/reset", {"email": email}, format="json")
        return lambda: BrowserClient().post("/accounts/password/reset/", {"email": email})

    known = queued_by(ask(alice.email))
    unknown = queued_by(ask("ghost@acme.example"))

    assert known == unknown and len(known) == 1
    assert not mail.outbox
    run_worker()
    [message] = mail.outbox  # the worker sends nothing for the unknown address
    assert message.to == [alice.email] and "/accounts/password/reset/" in message.body
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["api", "page"])
def test_a_verification_resend_queues_the_same_work_for_every_address(database_queue, api, alice, channel):
    unverified = UserFactory(email="new@acme.example", client=alice.client, email_verified_at=None)

    def ask(email):
        if channel == "api":
            return lambda: api.post("/api/v1/auth/verify/resend", {"email": email}, format="json")
        return lambda: BrowserClient().post("/accounts/verify/resend/", {"email": email})

    queued = [queued_by(ask(email)) for email in (unverified.email, alice.email, "ghost@acme.example")]

    assert queued[0] == queued[1] == queued[2] and len(queued[0]) == 1
    run_worker()
    [message] = mail.outbox
    assert message.to == [unverified.email] and "/accounts/verify/" in message.body


@pytest.mark.django_db(transaction=True)
def test_an_invitation_queues_the_same_work_whoever_the_address_belongs_to(database_queue, api, alice, charlie):
    def ask(email):
        return lambda: api_post(api, "team/invitations", {"email": email, "role": "agent"}, user=alice)

    new = queued_by(ask("dana@example.com"))
    elsewhere = queued_by(ask(charlie.email))

    assert new == elsewhere and len(new) == 1
    run_worker()
    sent = {message.to[0]: message.body for message in mail.outbox}
    assert "/accounts/invitations/" in sent["dana@example.com"]
    assert "/accounts/invitations/" not in sent[charlie.email]
