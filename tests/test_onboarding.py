"""Client onboarding: `manage.py onboard_client`, the owner's set-up wizard, the dashboard's "what is
left" card and staff's "Onboard client" admin form."""

import html
import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as BrowserClient
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent, Client, Invitation, OnboardingStep, User
from accounts.roles import Capability, Role, can
from caly import onboarding
from caly.management.commands.onboard_client import Command as OnboardClientCommand
from integrations.models import ExotelConnection, Product, ShopifyConnection
from integrations.services import SHOP_NOT_AVAILABLE
from recordings import demo
from recordings.models import Call, Recording, RecordingStatus
from tests import shopify_fake
from tests.exotel_fake import exotel_fixture  # noqa: F401
from tests.factories import ClientFactory, ShopifyConnectionFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-strong-pass-phrase-9"
EXOTEL_FORM = {
    "exotel-account_sid": "chaipoint1",
    "exotel-api_key": "exotel-api-key-0f1e2d3c4b5a",
    "exotel-api_token": "exotel-api-token-9a8b7c6d5e4f",
    "exotel-api_host": "api.in.exotel.com",
    "exotel-caller_ids": "+918047112233",
    "exotel-callback_username": "",
    "exotel-callback_password": "",
}
SHOPIFY_FORM = {
    "shopify-shop_domain": "chai-point.myshopify.com",
    "shopify-access_token": "shpat_0123456789abcdef0123456789abcdef",
    "shopify-webhook_secret": "shopify-webhook-secret-77aa88bb99cc",
    "shopify-api_version": "",
}
COMPANY_FORM = {
    "name": "Chai Point Retail",
    "timezone": "Asia/Kolkata",
    "country": "IN",
}
WIZARD_PAGES = [
    "/accounts/onboarding/",
    "/accounts/onboarding/company/",
    "/accounts/onboarding/exotel/",
    "/accounts/onboarding/shopify/",
    "/accounts/onboarding/done/",
]
WIZARD_POSTS = [
    "/accounts/onboarding/company/",
    "/accounts/onboarding/exotel/",
    "/accounts/onboarding/exotel/skip/",
    "/accounts/onboarding/shopify/",
    "/accounts/onboarding/shopify/skip/",
]


@pytest.fixture(autouse=True)
def providers(exotel, settings, monkeypatch):
    """The wizard checks credentials with the fake Exotel and Shopify, which answer to the forms' ones."""
    exotel.account_sid = EXOTEL_FORM["exotel-account_sid"]
    exotel.api_key, exotel.api_token = EXOTEL_FORM["exotel-api_key"], EXOTEL_FORM["exotel-api_token"]
    monkeypatch.setitem(EXOTEL_FORM, "exotel-api_host", exotel.host)
    with shopify_fake.serve(settings) as shopify:
        shopify.token, shopify.shop_domain = SHOPIFY_FORM["shopify-access_token"], SHOPIFY_FORM["shopify-shop_domain"]
        yield exotel, shopify


def text(response) -> str:
    return html.unescape(response.content.decode())


def signed_in(user) -> BrowserClient:
    browser = BrowserClient()
    browser.force_login(user)
    return browser


def link_path(message) -> str:
    match = re.search(r"(/accounts/invitations/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def onboard(*args) -> str:
    out = io.StringIO()
    call_command("onboard_client", *args, stdout=out)
    return out.getvalue()


def step_of(client) -> str:
    client.refresh_from_db()
    return client.onboarding_step


@pytest.fixture
def new_client(db):
    """A company that has just signed up: the wizard starts at its first step."""
    return ClientFactory(name="Chai Point", slug="chai-point", onboarding_step=OnboardingStep.COMPANY)


@pytest.fixture
def asha(new_client):
    return UserFactory(email="asha@chaipoint.example", first_name="Asha", client=new_client, role=Role.OWNER)


@pytest.fixture
def wizard(asha):
    return signed_in(asha)


def member_of(client, role) -> User:
    return UserFactory(client=client, role=role)


# --- manage.py onboard_client -------------------------------------------------------------------


def test_the_command_creates_the_client_and_emails_the_owner_a_set_up_link():
    out = onboard("--name", "Chai Point", "--owner-email", "Asha@ChaiPoint.example", "--timezone", "Asia/Dubai")

    client = Client.objects.get()
    assert (client.name, client.slug, client.timezone) == ("Chai Point", "chai-point", "Asia/Dubai")
    assert client.onboarding_step == OnboardingStep.COMPANY and client.is_active
    invitation = Invitation.objects.get()
    assert (invitation.client, invitation.email, invitation.role) == (client, "asha@chaipoint.example", Role.OWNER)
    assert invitation.status == "pending" and invitation.invited_by is None
    [message] = mail.outbox
    assert message.to == ["asha@chaipoint.example"]
    assert "The Caly team invited you to join Chai Point on Caly as owner" in message.body
    expires = invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    assert "Created the client Chai Point (slug chai-point, time zone Asia/Dubai)." in out
    assert f"Set-up link e-mailed to the owner asha@chaipoint.example; it expires {expires}." in out
    assert "Demo data" not in out
    registered = AuditEvent.objects.get(action=AuditAction.CLIENT_REGISTERED)
    assert (registered.client, registered.actor) == (client, None)
    assert registered.metadata == {"channel": "command", "owner_email": "asha@chaipoint.example", "demo_data": False}
    assert AuditEvent.objects.filter(action=AuditAction.USER_INVITED, client=client).count() == 1
    assert not User.objects.exists()  # the owner chooses a password from the link


def test_the_set_up_link_makes_the_owner_who_lands_in_the_wizard(client):
    onboard("--name", "Chai Point", "--owner-email", "asha@chaipoint.example")
    path = link_path(mail.outbox[0])

    page = client.get(path)
    assert page.status_code == 200 and "Join Chai Point on Caly" in text(page)
    response = client.post(
        path,
        {"first_name": "Asha", "last_name": "Rao", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    owner = User.objects.get(email="asha@chaipoint.example")
    assert (owner.client.slug, owner.role, owner.email_verified) == ("chai-point", Role.OWNER, True)
    assert response.redirect_chain == [("/", 302), ("/dashboard/", 302), ("/accounts/onboarding/company/", 302)]
    assert '<h2 id="company-title">Company details</h2>' in text(response)
    assert "Return window" not in text(response) and "WhatsApp" not in text(response)
    assert Invitation.objects.get().status == "accepted"
    team = client.get("/accounts/team/")  # an invitation from Caly itself has no inviter
    assert team.status_code == 200 and "asha@chaipoint.example" in text(team)
    invitations = client.get("/api/v1/team/invitations")
    assert invitations.status_code == 200 and invitations.json()["data"][0]["invited_by"] is None


def test_a_second_run_for_the_same_owner_reports_what_exists_and_changes_nothing():
    onboard("--name", "Chai Point", "--owner-email", "asha@chaipoint.example", "--demo-data")
    events, calls = AuditEvent.objects.count(), Call.objects.count()

    out = onboard("--name", "Chai Point Two", "--owner-email", "ASHA@chaipoint.example", "--demo-data")

    assert Client.objects.count() == 1 and Invitation.objects.count() == 1
    assert len(mail.outbox) == 1
    assert (AuditEvent.objects.count(), Call.objects.count()) == (events, calls)
    assert "The owner asha@chaipoint.example was onboarded before, with Chai Point (slug chai-point)." in out
    assert "Their invitation is pending until" in out and "Nothing changed." in out
    assert "Demo data" not in out

    path = link_path(mail.outbox[0])
    BrowserClient().post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    out = onboard("--name", "Chai Point", "--owner-email", "asha@chaipoint.example")

    assert "They accepted the invitation on" in out and "Nothing changed." in out
    assert Client.objects.count() == 1 and len(mail.outbox) == 1


def test_a_second_run_replaces_an_expired_invitation():
    onboard("--name", "Chai Point", "--owner-email", "asha@chaipoint.example")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    out = onboard("--name", "Chai Point", "--owner-email", "asha@chaipoint.example")

    assert Client.objects.count() == 1
    old, new = Invitation.objects.order_by("created_at", "pk")
    assert old.status == "revoked" and new.status == "pending" and new.client == old.client
    assert len(mail.outbox) == 2 and link_path(mail.outbox[0]) != link_path(mail.outbox[1])
    assert "Their invitation had expired: new link sent to asha@chaipoint.example" in out


def test_clients_with_the_same_name_get_their_own_slugs():
    onboard("--name", "Chai Point", "--owner-email", "asha@chaipoint.example")
    onboard("--name", "Chai Point", "--owner-email", "ravi@chaipoint.example")

    first, second = Client.objects.order_by("pk")
    assert first.slug == "chai-point" and second.slug.startswith("chai-point-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timezone", "Mars/Olympus_Mons"], "--timezone: Mars/Olympus_Mons is not a known time zone."),
        (["--owner-email", "not-an-address"], "--owner-email: Enter a valid email address."),
        (["--name", "   "], "--name: Give the company's name."),
        (["--name", "x" * 201], "--name: At most 200 characters."),
        (["--owner-email", "alice@acme.example"], "alice@acme.example is already a user of Acme Apparel."),
        (["--owner-email", "staff@caly.example"], "staff@caly.example is already a Caly staff account."),
    ],
)
def test_the_command_refuses_bad_input_and_creates_nothing(alice, staff, args, message):
    clients, events = Client.objects.count(), AuditEvent.objects.count()
    options = {"--name": "Chai Point", "--owner-email": "asha@chaipoint.example"}
    options.update(zip(args[::2], args[1::2], strict=True))

    with pytest.raises(CommandError) as refused:
        onboard(*[part for pair in options.items() for part in pair])

    assert str(refused.value) == message
    assert (Client.objects.count(), AuditEvent.objects.count()) == (clients, events)
    assert not Invitation.objects.exists() and mail.outbox == []


def test_a_refusal_exits_non_zero_with_the_message(capsys, monkeypatch):
    # run_from_argv closes the database connections when it ends; the test's transaction needs its own.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)

    with pytest.raises(SystemExit) as exited:
        OnboardClientCommand().run_from_argv(
            ["manage.py", "onboard_client", "--name", "Chai Point", "--owner-email", "asha@", "--timezone", "UTC"]
        )

    assert exited.value.code == 1
    assert "--owner-email: Enter a valid email address." in capsys.readouterr().err
    assert not Client.objects.exists()


def test_demo_data_goes_to_the_new_client_only(client_a):
    out = onboard("--name", "Chai Point", "--owner-email", "asha@chaipoint.example", "--demo-data")

    client = Client.objects.get(slug="chai-point")
    recordings = Recording.objects.for_client(client)
    assert Call.objects.for_client(client).count() == 300
    assert recordings.filter(status=RecordingStatus.STORED).count() == demo.RECORDINGS_WANTED
    assert Product.objects.for_client(client).count() == 40
    assert "Demo data: 300 calls, 40 recordings, 40 products." in out
    assert not Call.objects.for_client(client_a).exists() and not Product.objects.for_client(client_a).exists()
    assert AuditEvent.objects.get(action=AuditAction.CLIENT_REGISTERED).metadata["demo_data"] is True


def test_a_failure_on_the_way_leaves_nothing_and_sends_nothing(monkeypatch):
    from integrations.shopify import demo as shopify_demo

    def broken(**kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(shopify_demo, "seed_products", broken)

    with pytest.raises(RuntimeError):
        onboard("--name", "Chai Point", "--owner-email", "asha@chaipoint.example", "--demo-data")

    assert not Client.objects.exists() and not Call.objects.exists() and not Invitation.objects.exists()
    assert mail.outbox == [] and not AuditEvent.objects.exists()


# --- the wizard ---------------------------------------------------------------------------------


def test_the_wizard_starts_where_the_client_stands(wizard, new_client):
    assert wizard.get("/accounts/onboarding/")["Location"] == "/accounts/onboarding/company/"
    new_client.onboarding_step = OnboardingStep.SHOPIFY
    new_client.save()
    assert wizard.get("/accounts/onboarding/")["Location"] == "/accounts/onboarding/shopify/"


def test_step_one_shows_and_saves_the_company_details(wizard, new_client, asha):
    page = wizard.get("/accounts/onboarding/company/")
    assert page.status_code == 200
    body = text(page)
    assert 'value="Chai Point"' in body and '<option value="Asia/Kolkata" selected>' in body
    assert 'aria-current="step">Company details<' in body
    assert "<script>" not in body and "style=" not in body

    response = wizard.post("/accounts/onboarding/company/", COMPANY_FORM, follow=True)

    assert response.redirect_chain == [("/accounts/onboarding/exotel/", 302)]
    assert "Company details saved." in text(response)
    new_client.refresh_from_db()
    assert new_client.name == "Chai Point Retail" and new_client.timezone == "Asia/Kolkata"
    assert new_client.onboarding_step == OnboardingStep.EXOTEL
    changes = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED, actor=asha).order_by("pk")
    assert [sorted(event.metadata) for event in changes] == [
        ["name"],
        ["onboarding_step"],
    ]
    assert changes[1].metadata["onboarding_step"] == {"old": "company", "new": "exotel"}


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", "", "This field is required."),
        ("timezone", "Mars/Olympus_Mons", "Select a valid choice."),
        ("name", "x" * 201, "Ensure this value has at most 200 characters (it has 201)."),
        ("country", "ZZ", "Select a valid choice."),
    ],
)
def test_step_one_shows_bad_input_next_to_its_field(wizard, new_client, field, value, error):
    response = wizard.post("/accounts/onboarding/company/", {**COMPANY_FORM, field: value})

    assert response.status_code == 400
    assert error in text(response)
    assert f'id="id_{field}_error"' in text(response)
    new_client.refresh_from_db()
    assert new_client.name == "Chai Point" and new_client.onboarding_step == OnboardingStep.COMPANY
    assert not AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED).exists()


def test_a_step_ahead_of_the_wizard_sends_back_to_where_it_stands(wizard, new_client):
    for path in ("/accounts/onboarding/exotel/", "/accounts/onboarding/shopify/", "/accounts/onboarding/done/"):
        response = wizard.get(path)
        assert response.status_code == 302 and response["Location"] == "/accounts/onboarding/company/"
    response = wizard.post("/accounts/onboarding/exotel/", EXOTEL_FORM)
    assert response["Location"] == "/accounts/onboarding/company/"
    response = wizard.post("/accounts/onboarding/shopify/skip/")
    assert response["Location"] == "/accounts/onboarding/company/"
    assert step_of(new_client) == OnboardingStep.COMPANY and not ExotelConnection.objects.exists()


def test_step_two_connects_exotel_and_shows_the_callback_urls(wizard, new_client):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)

    response = wizard.post("/accounts/onboarding/exotel/", EXOTEL_FORM, follow=True)

    assert response.redirect_chain == [("/accounts/onboarding/exotel/", 302)]
    connection = ExotelConnection.objects.for_client(new_client).get()
    body = text(response)
    assert "Exotel is connected: Exotel accepted the credentials. Paste the callback URLs below into Exotel." in body
    assert 'data-status="connected">Connected, checked' in body
    assert f"/{connection.public_id}/{connection.webhook_token}/status-callback" in body
    assert f"/{connection.public_id}/{connection.webhook_token}/passthru" in body
    assert EXOTEL_FORM["exotel-api_token"] not in body and EXOTEL_FORM["exotel-api_key"] not in body
    assert 'href="/accounts/onboarding/shopify/">Continue to Shopify' in body
    assert step_of(new_client) == OnboardingStep.SHOPIFY
    assert AuditEvent.objects.filter(action=AuditAction.INTEGRATION_CONNECTED, client=new_client).count() == 1


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("exotel-account_sid", "", "This field is required."),
        ("exotel-caller_ids", "12345", "is not an E.164 number"),
        ("exotel-api_host", "evil.example", "Select a valid choice."),
        ("exotel-callback_username", "caly", "Set a password with the callback user name."),
    ],
)
def test_step_two_shows_bad_input_and_connects_nothing(wizard, new_client, field, value, error):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)

    response = wizard.post("/accounts/onboarding/exotel/", {**EXOTEL_FORM, field: value})

    assert response.status_code == 400 and error in text(response)
    assert not ExotelConnection.objects.exists()
    assert step_of(new_client) == OnboardingStep.EXOTEL


def test_skipped_steps_are_remembered_and_the_wizard_ends(wizard, new_client):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)

    assert wizard.post("/accounts/onboarding/exotel/skip/")["Location"] == "/accounts/onboarding/shopify/"
    assert step_of(new_client) == OnboardingStep.SHOPIFY
    response = wizard.post("/accounts/onboarding/shopify/skip/", follow=True)

    assert response.redirect_chain == [("/accounts/onboarding/done/", 302)]
    new_client.refresh_from_db()
    assert new_client.onboarding_step == OnboardingStep.DONE and new_client.onboarding_completed_at is not None
    body = text(response)
    assert "Chai Point Retail: the set-up wizard is finished" in body and "All done" not in body
    assert 'Exotel not connected — <a href="/accounts/onboarding/exotel/">connect</a>' in body
    assert 'Shopify not connected — <a href="/accounts/onboarding/shopify/">connect</a>' in body
    assert 'data-step="exotel"' in body and "Skipped" in body
    skipped = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED, metadata__has_key="skipped")
    assert sorted(event.metadata["skipped"] for event in skipped) == ["exotel", "shopify"]


def test_step_three_connects_shopify_and_finishes(wizard, new_client):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)
    wizard.post("/accounts/onboarding/exotel/skip/")

    response = wizard.post("/accounts/onboarding/shopify/", SHOPIFY_FORM, follow=True)

    assert response.redirect_chain == [("/accounts/onboarding/shopify/", 302)]
    connection = ShopifyConnection.objects.for_client(new_client).get()
    body = text(response)
    assert f"/{connection.public_id}" in body and SHOPIFY_FORM["shopify-access_token"] not in body
    assert 'href="/accounts/onboarding/done/">Finish' in body
    assert step_of(new_client) == OnboardingStep.DONE
    done = text(wizard.get("/accounts/onboarding/done/"))
    assert "Exotel not connected" in done and "Shopify not connected" not in done


def test_step_three_refuses_bad_input_a_refused_token_and_a_claimed_shop_naming_no_one(
    wizard, new_client, client_b, providers
):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)
    wizard.post("/accounts/onboarding/exotel/skip/")
    ShopifyConnectionFactory(client=client_b, shop_domain="taken.myshopify.com")
    providers[1].other_shops["shpat_taken_shops_staff_token"] = "taken.myshopify.com"

    missing = wizard.post("/accounts/onboarding/shopify/", {**SHOPIFY_FORM, "shopify-shop_domain": ""})
    junk = wizard.post("/accounts/onboarding/shopify/", {**SHOPIFY_FORM, "shopify-access_token": "shpat_junk"})
    taken = wizard.post(
        "/accounts/onboarding/shopify/",
        {
            **SHOPIFY_FORM,
            "shopify-shop_domain": "taken.myshopify.com",
            "shopify-access_token": "shpat_taken_shops_staff_token",
        },
    )

    assert missing.status_code == 400 and "This field is required." in text(missing)
    assert junk.status_code == 400 and "Shopify refused the access token." in text(junk)
    assert taken.status_code == 400 and SHOP_NOT_AVAILABLE in text(taken)
    assert "Another Caly account" not in text(taken) and client_b.name not in text(taken)
    assert not ShopifyConnection.objects.for_client(new_client).exists()
    assert step_of(new_client) == OnboardingStep.SHOPIFY


def test_step_two_refuses_credentials_exotel_refuses(wizard, new_client):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)

    response = wizard.post("/accounts/onboarding/exotel/", {**EXOTEL_FORM, "exotel-api_token": "not-the-token"})

    assert response.status_code == 400 and "Exotel refused the API key and token." in text(response)
    assert not ExotelConnection.objects.exists()
    assert step_of(new_client) == OnboardingStep.EXOTEL


def test_a_connection_saved_while_shopify_cannot_be_reached_says_it_is_not_verified(wizard, new_client, providers):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)
    wizard.post("/accounts/onboarding/exotel/skip/")
    providers[1].fail_next(503)

    body = text(wizard.post("/accounts/onboarding/shopify/", SHOPIFY_FORM, follow=True))

    assert ShopifyConnection.objects.for_client(new_client).get().verified_at is None
    assert "Not connected: Shopify has not accepted these credentials yet" in body
    assert "chai-point.myshopify.com is not linked to this account" in body
    assert "Shopify is not connected until a check passes." in body and "Shopify is connected" not in body
    assert 'data-status="check-failed">Not connected: checking failed' in body
    assert "Not connected yet" in body and ">Connected<" not in body  # the step in the wizard's steps


def test_going_back_to_a_finished_step_saves_it_and_keeps_the_progress(wizard, new_client):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)
    wizard.post("/accounts/onboarding/exotel/skip/")

    company = wizard.get("/accounts/onboarding/company/")
    assert company.status_code == 200 and 'value="Chai Point Retail"' in text(company)
    response = wizard.post("/accounts/onboarding/company/", {**COMPANY_FORM, "timezone": "Asia/Dubai"})
    assert response["Location"] == "/accounts/onboarding/exotel/"
    assert wizard.get("/accounts/onboarding/exotel/").status_code == 200
    assert wizard.post("/accounts/onboarding/exotel/skip/")["Location"] == "/accounts/onboarding/shopify/"
    wizard.post("/accounts/onboarding/exotel/", EXOTEL_FORM)  # connected after all, from the wizard

    new_client.refresh_from_db()
    assert new_client.timezone == "Asia/Dubai" and new_client.onboarding_step == OnboardingStep.SHOPIFY
    assert ExotelConnection.objects.for_client(new_client).exists()
    steps = text(wizard.get("/accounts/onboarding/shopify/"))
    assert '<a href="/accounts/onboarding/exotel/">Connect Exotel</a>' in steps and "Connected" in steps


def test_an_admin_runs_the_wizard_too(new_client):
    admin = signed_in(member_of(new_client, Role.ADMIN))

    assert admin.post("/accounts/onboarding/company/", COMPANY_FORM).status_code == 302
    assert admin.post("/accounts/onboarding/exotel/skip/").status_code == 302
    assert step_of(new_client) == OnboardingStep.SHOPIFY


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_agents_and_viewers_never_see_the_wizard(new_client, role):
    assert not can(role, Capability.MANAGE_CLIENT) and not can(role, Capability.MANAGE_INTEGRATIONS)
    browser = signed_in(member_of(new_client, role))

    for path in WIZARD_PAGES:
        assert browser.get(path).status_code == 403
    for path in WIZARD_POSTS:
        assert browser.post(path, {**COMPANY_FORM, **EXOTEL_FORM}).status_code == 403
    dashboard = browser.get("/dashboard/")
    assert dashboard.status_code == 200 and "Finish setting up" not in text(dashboard)
    assert step_of(new_client) == OnboardingStep.COMPANY and not ExotelConnection.objects.exists()


def test_the_wizard_is_for_signed_in_users_of_an_active_client(client, staff, asha, new_client):
    for path in WIZARD_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    for path in WIZARD_PAGES:
        assert signed_in(staff).get(path).status_code == 403
    new_client.is_active = False
    new_client.save()
    assert signed_in(asha).get("/accounts/onboarding/company/").status_code == 403


def test_the_wizard_changes_only_the_signed_in_users_client(wizard, new_client, charlie, client_b):
    client_b.onboarding_step = OnboardingStep.COMPANY
    client_b.save()
    other = signed_in(charlie)

    other.post("/accounts/onboarding/company/", {**COMPANY_FORM, "name": "Bolt Books Ltd"})
    other.post("/accounts/onboarding/exotel/", EXOTEL_FORM)

    new_client.refresh_from_db()
    assert new_client.name == "Chai Point" and new_client.onboarding_step == OnboardingStep.COMPANY
    assert step_of(client_b) == OnboardingStep.SHOPIFY
    assert ExotelConnection.objects.get().client == client_b
    assert "Bolt Books" not in text(wizard.get("/accounts/onboarding/company/"))


def test_the_wizard_needs_the_csrf_token(asha, new_client):
    browser = BrowserClient(enforce_csrf_checks=True)
    browser.force_login(asha)

    assert browser.post("/accounts/onboarding/company/", COMPANY_FORM).status_code == 403
    assert browser.post("/accounts/onboarding/exotel/skip/").status_code == 403
    assert step_of(new_client) == OnboardingStep.COMPANY


def test_the_wizard_answers_other_methods_with_405(wizard):
    assert wizard.put("/accounts/onboarding/company/").status_code == 405
    assert wizard.get("/accounts/onboarding/exotel/skip/").status_code == 405
    assert wizard.post("/accounts/onboarding/done/").status_code == 405


# --- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_sends_an_unfinished_owner_to_the_wizard_once(wizard):
    first = wizard.get("/dashboard/")
    assert first.status_code == 302 and first["Location"] == "/accounts/onboarding/company/"

    second = wizard.get("/dashboard/")  # they left the wizard: the card, not the wizard again

    assert second.status_code == 200
    card = text(second)
    assert "Finish setting up" in card
    assert 'Company details not confirmed — <a href="/accounts/onboarding/company/">review</a>' in card
    # Before the wizard reaches them, the connections are made on the integrations page.
    assert 'Exotel not connected — <a href="/integrations/">connect</a>' in card
    assert 'Shopify not connected — <a href="/integrations/">connect</a>' in card
    assert 'href="/accounts/onboarding/">Continue setting up' in card


def test_a_new_sign_in_is_sent_to_the_wizard_again_until_it_is_done(asha, new_client):
    assert signed_in(asha).get("/dashboard/").status_code == 302
    assert signed_in(asha).get("/dashboard/").status_code == 302
    new_client.onboarding_step = OnboardingStep.DONE
    new_client.save()
    assert signed_in(asha).get("/dashboard/").status_code == 200


def test_the_card_lists_what_was_skipped_with_links_to_the_steps(wizard, new_client):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)
    wizard.post("/accounts/onboarding/exotel/skip/")
    wizard.post("/accounts/onboarding/shopify/", SHOPIFY_FORM)

    card = text(wizard.get("/dashboard/"))

    assert 'Exotel not connected — <a href="/accounts/onboarding/exotel/">connect</a>' in card
    assert 'data-left="shopify"' not in card and 'data-left="company"' not in card
    assert "Continue setting up" not in card


def test_the_card_is_gone_when_everything_is_done(wizard, new_client):
    wizard.post("/accounts/onboarding/company/", COMPANY_FORM)
    wizard.post("/accounts/onboarding/exotel/", EXOTEL_FORM)
    wizard.post("/accounts/onboarding/shopify/", SHOPIFY_FORM)

    response = wizard.get("/dashboard/")

    assert response.status_code == 200 and step_of(new_client) == OnboardingStep.DONE
    assert "Finish setting up" not in text(response)


def test_a_connection_made_on_the_integrations_page_clears_its_line(alice):
    browser = signed_in(alice)
    assert "Exotel not connected" in text(browser.get("/dashboard/"))

    browser.post("/integrations/exotel/", EXOTEL_FORM)

    card = text(browser.get("/dashboard/"))
    assert "Exotel not connected" not in card and "Shopify not connected" in card


# --- the admin ----------------------------------------------------------------------------------


ADMIN_FORM = {"name": "Chai Point", "owner_email": "asha@chaipoint.example", "timezone": "Asia/Kolkata"}


def test_staff_find_the_onboard_form_on_the_client_list(staff):
    admin = signed_in(staff)

    changelist = admin.get("/admin/accounts/client/")
    form = admin.get("/admin/accounts/client/onboard/")

    assert 'href="/admin/accounts/client/onboard/" class="addlink">Onboard client</a>' in text(changelist)
    assert form.status_code == 200
    for name in ("name", "owner_email", "timezone", "demo_data"):
        assert f'name="{name}"' in text(form)


def test_staff_onboard_a_client_audited_with_themselves_as_actor(staff):
    admin = signed_in(staff)

    response = admin.post("/admin/accounts/client/onboard/", {**ADMIN_FORM, "demo_data": "on"}, follow=True)

    client = Client.objects.get()
    assert response.redirect_chain == [(f"/admin/accounts/client/{client.pk}/change/", 302)]
    body = text(response)
    assert "Created the client Chai Point (slug chai-point, time zone Asia/Kolkata)." in body
    assert "Set-up link e-mailed to the owner asha@chaipoint.example" in body
    assert "Demo data: 300 calls, 40 recordings, 40 products." in body
    registered = AuditEvent.objects.get(action=AuditAction.CLIENT_REGISTERED)
    assert (registered.client, registered.actor, registered.metadata["channel"]) == (client, staff, "admin")
    invited = AuditEvent.objects.get(action=AuditAction.USER_INVITED)
    assert invited.actor == staff and Invitation.objects.get().invited_by == staff
    [message] = mail.outbox
    assert "The Caly team invited you to join Chai Point" in message.body  # not the staff member's name

    again = admin.post("/admin/accounts/client/onboard/", ADMIN_FORM, follow=True)
    assert "The owner asha@chaipoint.example was onboarded before" in text(again)
    assert Client.objects.count() == 1 and len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"owner_email": "nope"}, "Enter a valid email address."),
        ({"owner_email": "alice@acme.example"}, "alice@acme.example is already a user of Acme Apparel."),
        ({"name": ""}, "This field is required."),
        ({"timezone": "Mars/Olympus_Mons"}, "Select a valid choice."),
    ],
)
def test_the_admin_form_shows_bad_input_and_creates_nothing(staff, alice, changes, error):
    response = signed_in(staff).post("/admin/accounts/client/onboard/", {**ADMIN_FORM, **changes})

    assert response.status_code == 400 and error in text(response)
    assert Client.objects.count() == 1 and mail.outbox == []  # Acme Apparel only


def test_only_staff_who_may_add_clients_onboard_them(client, alice):
    clerk = StaffFactory(email="clerk@caly.example")  # staff without the add-client permission

    assert signed_in(clerk).get("/admin/accounts/client/onboard/").status_code == 403
    assert signed_in(clerk).post("/admin/accounts/client/onboard/", ADMIN_FORM).status_code == 403
    for visitor in (client, signed_in(alice)):
        response = visitor.post("/admin/accounts/client/onboard/", ADMIN_FORM)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Client.objects.count() == 1 and mail.outbox == []


def test_an_uninstalled_store_counts_as_not_connected(client_a):
    ShopifyConnectionFactory(client=client_a, uninstalled_at=timezone.now(), verified_at=None)

    assert onboarding.connected(client=client_a)[OnboardingStep.SHOPIFY] is False
