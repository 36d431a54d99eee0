"""The account pages with Django's test client: sign-up, e-mail links, sign-in, profile and team."""

import html
import re

import pytest
from django.core import mail
from django.test import Client as BrowserClient

from accounts.models import AuditAction, AuditEvent, Client, Invitation, User
from accounts.roles import Capability, Role, can
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "company_name": "Chai Point",
    "first_name": "Asha",
    "last_name": "Rao",
    "email": "Founder@ChaiPoint.example",
    "password": "a-strong-pass-phrase-9",
}
NEW_PASSWORD = "another-long-pass-phrase-7"


def text(response) -> str:
    """The page as a reader sees it: entities decoded."""
    return html.unescape(response.content.decode())


def link_path(message, kind: str) -> str:
    """The path of the /accounts/<kind>/<token>/ link in an e-mail."""
    match = re.search(rf"(/accounts/{kind}/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def assert_403_page(response):
    assert response.status_code == 403
    assert "You don't have access to this page" in text(response)


def sign_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def owner(client, alice):
    return sign_in(client, alice)


# --- pages render --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/accounts/signup/", "Create your company's account"),
        ("/accounts/signup/done/", "Check your email"),
        ("/accounts/login/", "Sign in to Caly"),
        ("/accounts/verify/resend/", "Send the confirmation link again"),
        ("/accounts/verify/any-token/", "Confirm your email address"),
        ("/accounts/password/reset/", "Reset your password"),
    ],
)
def test_it_renders_every_public_page(client, path, heading):
    response = client.get(path)

    assert response.status_code == 200
    page = text(response)
    assert heading in page
    assert 'class="site-header"' in page and "/static/css/caly.css" in page
    assert "<script>" not in page and "style=" not in page  # nothing inline under the CSP


@pytest.mark.parametrize(("path", "heading"), [("/accounts/profile/", "Your profile"), ("/accounts/team/", "Team")])
def test_it_renders_the_pages_of_a_signed_in_owner(owner, path, heading):
    response = owner.get(path)

    assert response.status_code == 200
    assert f"<h1>{heading}</h1>" in text(response)


def test_it_labels_every_input_and_points_it_at_its_errors(client):
    response = client.post("/accounts/signup/", {**SIGNUP, "email": "not-an-address"})

    page = text(response)
    for name in SIGNUP:
        assert f'<label for="id_{name}">' in page
    assert 'aria-invalid="true"' in page and 'aria-describedby="id_email_error"' in page
    assert '<ul class="field-errors" id="id_email_error"><li>Enter a valid email address.</li></ul>' in page


# --- sign-up and e-mail verification -------------------------------------------------------------


def test_it_signs_up_verifies_the_email_and_signs_in(client):
    response = client.post("/accounts/signup/", SIGNUP, follow=True)

    assert response.redirect_chain == [("/accounts/signup/done/", 302)]
    assert "Check your email" in text(response) and "founder@chaipoint.example" in text(response)
    owner = User.objects.get(email="founder@chaipoint.example")
    assert owner.role == Role.OWNER and owner.client.name == "Chai Point" and not owner.email_verified
    [message] = mail.outbox
    assert message.to == ["founder@chaipoint.example"]
    verify_path = link_path(message, "verify")

    response = client.get(verify_path)  # a link scanner's GET spends nothing
    assert response.status_code == 200 and "Confirm my email address" in text(response)
    owner.refresh_from_db()
    assert not owner.email_verified

    response = client.post(verify_path, follow=True)
    assert response.redirect_chain == [("/accounts/login/", 302)]
    assert "Your email address is verified" in text(response)
    owner.refresh_from_db()
    assert owner.email_verified

    response = client.post("/accounts/login/", {"email": SIGNUP["email"], "password": SIGNUP["password"]}, follow=True)
    # A new company's owner is taken to the set-up wizard first (tests/test_onboarding.py).
    assert response.redirect_chain == [("/", 302), ("/dashboard/", 302), ("/accounts/onboarding/company/", 302)]
    assert response.context["user"] == owner
    assert '<span class="nav-client">Chai Point</span>' in text(response)


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"password": "12345678"}, "password", "This password is entirely numeric."),
        ({"password": "chai"}, "password", "This password is too short. It must contain at least 8 characters."),
        ({"company_name": ""}, "company_name", "This field is required."),
        ({"email": "nobody"}, "email", "Enter a valid email address."),
    ],
)
def test_it_shows_signup_errors_next_to_their_fields(client, changes, field, problem):
    response = client.post("/accounts/signup/", {**SIGNUP, **changes})

    assert response.status_code == 200
    assert problem in response.context["form"].errors[field]
    assert f'id="id_{field}_error"' in text(response)
    assert not Client.objects.exists() and not User.objects.exists() and not mail.outbox


def test_it_shows_every_signup_problem_at_once(client):
    response = client.post("/accounts/signup/", {**SIGNUP, "company_name": "", "password": "founder1"})

    errors = response.context["form"].errors
    assert errors["company_name"] == ["This field is required."]
    assert errors["password"] == ["The password is too similar to the email."]


def test_it_answers_a_signup_with_a_taken_address_like_any_other_and_creates_nothing(client, alice):
    response = client.post("/accounts/signup/", {**SIGNUP, "email": "ALICE@acme.example"})

    assert response.status_code == 302 and response["Location"] == "/accounts/signup/done/"
    assert Client.objects.count() == 1 and User.objects.count() == 1
    [message] = mail.outbox
    assert message.to == [alice.email] and "Someone tried to sign up" in message.subject


def test_it_rate_limits_signups_per_address(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register_ip": "2/h"}
    for n in range(2):
        response = client.post("/accounts/signup/", {**SIGNUP, "email": f"owner{n}@example.com"})
        assert response.status_code == 302

    response = client.post("/accounts/signup/", {**SIGNUP, "email": "owner2@example.com"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many attempts. Please wait" in text(response)
    assert not User.objects.filter(email="owner2@example.com").exists()


@pytest.mark.parametrize("token", ["forged", "eyJ1IjoxfQ:1tXyZ:abc"])
def test_it_explains_a_forged_verification_link(client, token):
    response = client.post(f"/accounts/verify/{token}/")

    assert response.status_code == 400
    page = text(response)
    assert "This confirmation link is no longer valid" in page
    assert 'href="/accounts/verify/resend/"' in page


def test_it_explains_a_verification_link_used_twice(client):
    client.post("/accounts/signup/", SIGNUP)
    verify_path = link_path(mail.outbox[0], "verify")
    assert client.post(verify_path).status_code == 302

    response = client.post(verify_path)

    assert response.status_code == 400
    assert "This confirmation link is no longer valid" in text(response)


def test_it_resends_a_verification_link_with_the_same_answer_for_any_address(client, alice):
    unverified = UserFactory(email="new@acme.example", client=alice.client, email_verified_at=None)
    answers = []
    for email in (unverified.email, "nobody@example.com", alice.email):
        response = client.post("/accounts/verify/resend/", {"email": email}, follow=True)
        assert response.redirect_chain == [("/accounts/verify/resend/", 302)]
        answers.append(re.search(r'<li class="message[^"]*">(.*?)</li>', text(response)).group(1))

    assert len(set(answers)) == 1 and "a new link is on its way" in answers[0]
    [message] = mail.outbox
    assert message.to == [unverified.email]
    client.post(link_path(message, "verify"))
    unverified.refresh_from_db()
    assert unverified.email_verified


def test_it_rate_limits_email_link_requests_per_address(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset_ip": "2/h"}
    client.post("/accounts/verify/resend/", {"email": "a@example.com"})
    client.post("/accounts/password/reset/", {"email": "a@example.com"})

    for path in ("/accounts/verify/resend/", "/accounts/password/reset/"):
        response = client.post(path, {"email": "a@example.com"})
        assert response.status_code == 429
        assert "Too many attempts. Please wait" in text(response)


# --- sign-in and sign-out ------------------------------------------------------------------------


def test_it_signs_in_and_out_with_a_session(client, alice):
    response = client.post("/accounts/login/", {"email": "Alice@Acme.example", "password": PASSWORD}, follow=True)

    assert response.redirect_chain == [("/", 302), ("/dashboard/", 302)]
    page = text(response)
    assert '<span class="nav-client">Acme Apparel</span>' in page
    for link in ('href="/accounts/team/">Team<', 'href="/accounts/profile/">Profile<', "Log out</button>"):
        assert link in page
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_SUCCEEDED)
    assert event.actor == alice and event.metadata == {"channel": "web"}

    assert client.get("/accounts/logout/").status_code == 405  # a link or prefetch cannot sign anyone out
    response = client.post("/accounts/logout/", follow=True)

    assert response.redirect_chain == [("/", 302)]
    assert "You have signed out." in text(response)
    assert not response.context["user"].is_authenticated
    assert 'href="/accounts/login/">Sign in<' in text(response)


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/accounts/team/", "/accounts/team/"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/", "/"),
    ],
)
def test_it_follows_only_a_safe_next_after_sign_in(client, alice, next_url, landing):
    response = client.post(f"/accounts/login/?next={next_url}", {"email": alice.email, "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == landing


def test_it_keeps_next_in_the_form_when_a_page_asks_to_sign_in(client, alice):
    response = client.get("/accounts/team/", follow=True)

    assert response.redirect_chain == [("/accounts/login/?next=/accounts/team/", 302)]
    assert '<input type="hidden" name="next" value="/accounts/team/">' in text(response)
    response = client.post("/accounts/login/", {"email": alice.email, "password": PASSWORD, "next": "/accounts/team/"})
    assert response["Location"] == "/accounts/team/"


@pytest.mark.parametrize(("email", "password"), [("alice@acme.example", "wrong"), ("nobody@acme.example", PASSWORD)])
def test_it_refuses_wrong_credentials_alike(client, alice, email, password):
    response = client.post("/accounts/login/", {"email": email, "password": password})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Wrong email or password."]
    assert not response.context["user"].is_authenticated
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 1


def test_it_asks_unverified_users_to_confirm_their_address_first(client, alice):
    UserFactory(email="new@acme.example", client=alice.client, email_verified_at=None)

    response = client.post("/accounts/login/", {"email": "new@acme.example", "password": PASSWORD})

    page = text(response)
    assert "Please verify your email address first." in page
    assert 'href="/accounts/verify/resend/?email=new%40acme.example"' in page
    assert not response.context["user"].is_authenticated


def test_it_sends_staff_to_the_admin_and_refuses_deactivated_clients(client, staff, alice):
    response = client.post("/accounts/login/", {"email": staff.email, "password": PASSWORD})
    assert "Staff accounts sign in to the admin." in text(response)

    alice.client.is_active = False
    alice.client.save()
    response = client.post("/accounts/login/", {"email": alice.email, "password": PASSWORD})
    assert "This company's Caly account is deactivated." in text(response)
    assert not response.context["user"].is_authenticated


def test_it_rate_limits_failed_logins_per_account(client, alice, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login_account": "3/15m"}
    for _ in range(3):
        response = client.post("/accounts/login/", {"email": alice.email, "password": "wrong"})
        assert "Wrong email or password." in text(response)

    response = client.post("/accounts/login/", {"email": alice.email, "password": "wrong"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert re.search(r"Too many attempts\. Please wait \d+ (minute|second)s? and try again\.", text(response))
    # Not even the right password gets through until the window ends.
    response = client.post("/accounts/login/", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 429 and not response.context["user"].is_authenticated


def test_it_enforces_csrf_on_the_forms(alice):
    browser = BrowserClient(enforce_csrf_checks=True)

    response = browser.post("/accounts/login/", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 403 and "This form has expired" in text(response)

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text(browser.get("/accounts/login/"))).group(1)
    response = browser.post(
        "/accounts/login/", {"email": alice.email, "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302

    response = browser.post("/accounts/logout/")  # signed in, still no token: refused
    assert response.status_code == 403
    assert browser.get("/accounts/profile/").status_code == 200


# --- passwords -----------------------------------------------------------------------------------


def test_it_resets_a_password_with_an_emailed_link(client, alice):
    response = client.post("/accounts/password/reset/", {"email": "alice@acme.example"}, follow=True)
    assert "a reset link is on its way" in text(response)
    [message] = mail.outbox
    reset_path = link_path(message, "password/reset")

    response = client.get(reset_path)
    assert response.status_code == 200 and "alice@acme.example" in text(response)

    response = client.post(reset_path, {"new_password1": NEW_PASSWORD, "new_password2": "different"})
    assert response.context["form"].errors["new_password2"] == ["The two passwords differ."]
    response = client.post(reset_path, {"new_password1": "12345678", "new_password2": "12345678"})
    assert "This password is entirely numeric." in response.context["form"].errors["new_password1"]

    response = client.post(reset_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True)
    assert response.redirect_chain == [("/accounts/login/", 302)]
    assert "Your password has been changed" in text(response)
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)

    response = client.get(reset_path)  # single use
    assert response.status_code == 400 and "This reset link is no longer valid" in text(response)


def test_it_answers_a_reset_request_the_same_for_unknown_addresses(client, alice):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, follow=True)

    assert "If an account has this address, a reset link is on its way." in text(response)
    assert not mail.outbox


def test_it_explains_a_forged_reset_link(client):
    for response in (client.get("/accounts/password/reset/forged/"), client.post("/accounts/password/reset/x/")):
        assert response.status_code == 400
        assert 'href="/accounts/password/reset/">Get a new reset link<' in text(response)


# --- invitations ---------------------------------------------------------------------------------


def invite(client, email="dana@example.com", role=Role.VIEWER):
    response = client.post("/accounts/team/", {"email": email, "role": role}, follow=True)
    assert f"Invitation sent to {email}." in text(response), text(response)
    return link_path(mail.outbox[-1], "invitations")


def test_it_invites_a_member_who_joins_and_is_signed_in(owner, client_a):
    invitation_path = invite(owner)
    stranger = BrowserClient()

    response = stranger.get(invitation_path)
    assert response.status_code == 200
    page = text(response)
    assert "Join Acme Apparel on Caly" in page
    assert "<dd>Viewer</dd>" in page and "<dd>dana@example.com</dd>" in page

    response = stranger.post(
        invitation_path,
        {"first_name": "Dana", "last_name": "Iyer", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert response.redirect_chain == [("/", 302), ("/dashboard/", 302)]
    dana = User.objects.get(email="dana@example.com")
    assert (dana.client, dana.role, dana.first_name, dana.email_verified) == (client_a, Role.VIEWER, "Dana", True)
    assert response.context["user"] == dana
    page = text(response)
    assert "Welcome to Acme Apparel, Dana!" in page and '<span class="nav-client">Acme Apparel</span>' in page
    assert 'href="/accounts/team/"' not in page  # a viewer has no team link
    assert_403_page(stranger.get("/accounts/team/"))
    assert stranger.get(invitation_path).status_code == 400  # spent


def test_it_shows_errors_when_accepting_an_invitation(owner):
    invitation_path = invite(owner)
    stranger = BrowserClient()

    response = stranger.post(invitation_path, {"new_password1": "dana", "new_password2": "dana"})

    assert response.status_code == 200
    assert "This password is too short. It must contain at least 8 characters." in text(response)
    assert not User.objects.filter(email="dana@example.com").exists()


def test_it_explains_a_forged_or_revoked_invitation(owner, alice):
    invitation_path = invite(owner)
    invitation = Invitation.objects.get(email="dana@example.com")
    owner.post(f"/accounts/team/invitations/{invitation.public_id}/revoke/")

    for path in (invitation_path, "/accounts/invitations/forged/"):
        response = BrowserClient().get(path)
        assert response.status_code == 400
        assert "This invitation is no longer valid" in text(response)


def test_it_refuses_invitations_the_service_refuses(owner, bob):
    invite(owner)

    for email, problem in (
        ("dana@example.com", "This address already has a pending invitation."),
        (bob.email, "This person is already a member of your team."),
    ):
        response = owner.post("/accounts/team/", {"email": email, "role": Role.AGENT})
        assert response.status_code == 200
        assert response.context["form"].errors["email"] == [problem]
    assert len(mail.outbox) == 1


def test_it_lets_only_owners_invite_owners(client, client_a):
    admin = UserFactory(email="ada@acme.example", client=client_a, role=Role.ADMIN)
    sign_in(client, admin)

    response = client.post("/accounts/team/", {"email": "dana@example.com", "role": Role.OWNER})

    assert response.context["form"].errors["role"] == ["Only an owner can invite another owner."]
    assert not Invitation.objects.exists()


def test_it_revokes_an_invitation(owner):
    invite(owner)
    invitation = Invitation.objects.get(email="dana@example.com")

    response = owner.post(f"/accounts/team/invitations/{invitation.public_id}/revoke/", follow=True)

    assert "The invitation for dana@example.com is revoked." in text(response)
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    response = owner.post(f"/accounts/team/invitations/{invitation.public_id}/revoke/", follow=True)
    assert "This invitation is already revoked." in text(response)


# --- profile -------------------------------------------------------------------------------------


def test_it_saves_the_profile_name(owner, alice):
    response = owner.post(
        "/accounts/profile/", {"form": "name", "name-first_name": "Alicia", "name-last_name": "Mehta"}, follow=True
    )

    assert "Your name is saved." in text(response)
    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name) == ("Alicia", "Mehta")


def test_it_changes_the_password_keeping_this_session_and_ending_the_others(owner, alice):
    other_browser = sign_in(BrowserClient(), alice)
    wrong = {
        "form": "password",
        "password-current_password": "wrong",
        "password-new_password1": NEW_PASSWORD,
        "password-new_password2": NEW_PASSWORD,
    }

    response = owner.post("/accounts/profile/", wrong)
    assert response.context["password_form"].errors["current_password"] == ["The current password is wrong."]

    response = owner.post("/accounts/profile/", {**wrong, "password-current_password": PASSWORD}, follow=True)

    assert "Your password has been changed." in text(response)
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert owner.get("/accounts/profile/").status_code == 200
    assert other_browser.get("/accounts/profile/")["Location"] == "/accounts/login/?next=/accounts/profile/"


def test_it_sends_anonymous_visitors_to_sign_in(client):
    for path in ("/accounts/profile/", "/accounts/team/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={path}"


def test_it_refuses_the_pages_to_staff_and_to_users_of_a_deactivated_client(client, staff, alice):
    sign_in(client, staff)
    assert_403_page(client.get("/accounts/profile/"))

    sign_in(client, alice)
    alice.client.is_active = False
    alice.client.save()
    assert_403_page(client.get("/accounts/profile/"))
    assert_403_page(client.get("/accounts/team/"))


# --- team ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", Role.values)
def test_it_opens_the_team_page_and_link_to_roles_that_manage_the_team_only(client, client_a, role):
    sign_in(client, UserFactory(email="member@acme.example", client=client_a, role=role))

    response = client.get("/accounts/team/")
    home = text(client.get("/", follow=True))

    if can(role, Capability.MANAGE_TEAM):
        assert response.status_code == 200
        assert 'href="/accounts/team/">Team<' in home
    else:
        assert_403_page(response)
        assert 'href="/accounts/team/"' not in home
    assert 'href="/accounts/profile/">Profile<' in home


def test_it_lists_only_the_clients_own_members(owner, bob, charlie):
    response = owner.get("/accounts/team/")

    members = [member.email for member in response.context["members"]]
    assert members == ["alice@acme.example", "bob@acme.example"]
    assert "charlie@bolt.example" not in text(response)


def test_it_changes_a_members_role(owner, bob):
    response = owner.post(f"/accounts/team/members/{bob.public_id}/role/", {"role": Role.ADMIN}, follow=True)

    assert response.redirect_chain == [("/accounts/team/", 302)]
    assert "bob@acme.example is now admin." in text(response)
    bob.refresh_from_db()
    assert bob.role == Role.ADMIN


def test_it_deactivates_and_reactivates_a_member(owner, bob):
    response = owner.post(f"/accounts/team/members/{bob.public_id}/deactivate/", follow=True)
    assert "bob@acme.example is deactivated and signed out everywhere." in text(response)
    bob.refresh_from_db()
    assert not bob.is_active
    assert "Reactivate" in text(response)

    response = owner.post(f"/accounts/team/members/{bob.public_id}/activate/", follow=True)
    assert "bob@acme.example can sign in again." in text(response)
    bob.refresh_from_db()
    assert bob.is_active


def test_it_signs_out_a_deactivated_member_at_once(owner, bob):
    bobs_browser = sign_in(BrowserClient(), bob)
    assert bobs_browser.get("/accounts/profile/").status_code == 200

    owner.post(f"/accounts/team/members/{bob.public_id}/deactivate/")

    response = bobs_browser.get("/accounts/profile/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not bobs_browser.get("/").context["user"].is_authenticated


def test_it_keeps_the_last_owner(owner, alice):
    response = owner.post(f"/accounts/team/members/{alice.public_id}/role/", {"role": Role.ADMIN}, follow=True)
    assert "Make someone else an owner first: the company's last owner cannot be given another role." in text(response)

    response = owner.post(f"/accounts/team/members/{alice.public_id}/deactivate/", follow=True)
    assert "Make someone else an owner first: the company's last owner cannot be deactivated." in text(response)

    alice.refresh_from_db()
    assert alice.role == Role.OWNER and alice.is_active


def test_it_lets_only_owners_change_owners(client, alice, client_a):
    admin = UserFactory(email="ada@acme.example", client=client_a, role=Role.ADMIN)
    sign_in(client, admin)

    response = client.post(f"/accounts/team/members/{alice.public_id}/deactivate/", follow=True)

    assert "Only an owner can grant, change or remove the owner role." in text(response)
    alice.refresh_from_db()
    assert alice.is_active


@pytest.mark.parametrize(
    ("action", "data"),
    [("role/", {"role": Role.VIEWER}), ("deactivate/", {}), ("activate/", {})],
)
def test_it_answers_404_for_another_clients_member(owner, charlie, action, data):
    response = owner.post(f"/accounts/team/members/{charlie.public_id}/{action}", data)

    assert response.status_code == 404
    charlie.refresh_from_db()
    assert charlie.role == Role.OWNER and charlie.is_active


def test_it_answers_404_for_another_clients_invitation(owner, charlie):
    charlies_browser = sign_in(BrowserClient(), charlie)
    invite(charlies_browser, email="erin@example.com")
    invitation = Invitation.objects.get(email="erin@example.com")

    response = owner.post(f"/accounts/team/invitations/{invitation.public_id}/revoke/")

    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_it_refuses_team_changes_to_roles_without_the_capability(client, bob, alice):
    sign_in(client, bob)  # an agent

    for path in (f"/accounts/team/members/{alice.public_id}/deactivate/", "/accounts/team/"):
        assert_403_page(client.post(path, {"email": "x@example.com", "role": Role.OWNER}))
    alice.refresh_from_db()
    assert alice.is_active and not Invitation.objects.exists()
