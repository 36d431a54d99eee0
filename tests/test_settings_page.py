"""The settings page (/settings/): company details and time zone, tags, owner-only recording retention; who
may see and save it, bad input as form errors with nothing stored, and the audit log as the API writes it."""

import pytest
from django.test import Client as PageClient

from accounts import jwt
from accounts import services as accounts_services
from accounts.models import AuditAction, AuditEvent, Client
from accounts.roles import Role
from recordings import tags
from recordings.models import CallTag, Tag
from tests.factories import CallFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def page():
    def _as(user):
        browser = PageClient()
        browser.force_login(user)
        return browser

    return _as


@pytest.fixture
def admin_a(client_a):
    return UserFactory(email="ada@acme.example", client=client_a, role=Role.ADMIN)


@pytest.fixture
def viewer_a(client_a):
    return UserFactory(email="vic@acme.example", client=client_a, role=Role.VIEWER)


def client_row(client):
    return Client.objects.filter(pk=client.pk).values().get()


def company(**fields):
    data = {"company-name": "Acme Apparel", "company-country": "IN", "company-timezone": "Asia/Kolkata"}
    return {**data, **{f"company-{name}": value for name, value in fields.items()}}


# --- who may use it ----------------------------------------------------------------------------------


def test_owners_and_admins_see_the_page_and_its_link(page, alice, admin_a):
    for user in (alice, admin_a):
        response = page(user).get("/settings/")
        assert response.status_code == 200
        html = response.content.decode()
        assert 'href="/settings/"' in html and "Company" in html and "Tags" in html and "Recording retention" in html
        assert "billed" in html or "bills" in html  # the Wasabi 90-day note


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
def test_viewers_and_agents_cannot_see_or_save_it(page, client_a, role):
    user = UserFactory(email=f"{role}@acme.example", client=client_a, role=role)
    tag = TagFactory(client=client_a, name="refund")
    before = client_row(client_a), list(Tag.objects.values())
    browser = page(user)
    assert 'href="/settings/"' not in browser.get("/calls/").content.decode()
    assert browser.get("/settings/").status_code == 403
    for path, data in (
        ("/settings/company/", company(name="Taken over")),
        ("/settings/tags/", {"new-tag-name": "new", "new-tag-colour": "grey"}),
        (f"/settings/tags/{tag.public_id}/", {f"tag-{tag.public_id}-name": "x", f"tag-{tag.public_id}-colour": "red"}),
        (f"/settings/tags/{tag.public_id}/delete/", {}),
        ("/settings/recording-retention/", {"retention-recording_retention_days": "30"}),
    ):
        assert browser.post(path, data).status_code == 403, path
    assert (client_row(client_a), list(Tag.objects.values())) == before


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/settings/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- company details ---------------------------------------------------------------------------------


def test_it_saves_company_details_audited_as_the_api_does(page, admin_a, client_a):
    response = page(admin_a).post(
        "/settings/company/", company(name="Acme Apparel Ltd", timezone="Europe/London", country="GB")
    )
    assert response.status_code == 302 and response["Location"] == "/settings/#company-settings"
    client_a.refresh_from_db()
    assert (client_a.name, client_a.timezone, client_a.country) == ("Acme Apparel Ltd", "Europe/London", "GB")
    [event] = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED)
    assert event.actor == admin_a and event.metadata == {
        "name": {"old": "Acme Apparel", "new": "Acme Apparel Ltd"},
        "timezone": {"old": "Asia/Kolkata", "new": "Europe/London"},
        "country": {"old": "IN", "new": "GB"},
    }


def test_the_time_zone_field_offers_every_zone_to_search(page, alice):
    html = page(alice).get("/settings/").content.decode()
    assert 'list="timezones"' in html and '<datalist id="timezones">' in html
    assert '<option value="America/Argentina/Buenos_Aires">' in html and '<option value="Asia/Kolkata">' in html


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "not a time zone"),
        ({"timezone": ""}, "timezone", "required"),
        ({"country": "ZZ"}, "country", "valid choice"),
        ({"name": ""}, "name", "required"),
        ({"name": "n" * 10_000}, "name", "at most 200"),
    ],
    ids=["unknown zone", "no zone", "unknown country", "no name", "long name"],
)
def test_bad_company_details_are_form_errors_and_nothing_changes(page, alice, client_a, fields, field, message):
    before = client_row(client_a)
    response = page(alice).post("/settings/company/", company(**fields))
    assert response.status_code == 400
    form = response.context["company_form"]
    assert message in " ".join(form.errors[field]).lower()
    assert client_row(client_a) == before
    assert not AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED).exists()


# --- tags ---------------------------------------------------------------------------------------------


def test_it_creates_renames_and_deletes_tags(page, admin_a, client_a):
    browser = page(admin_a)
    response = browser.post("/settings/tags/", {"new-tag-name": " Refund ", "new-tag-colour": "red"})
    assert response.status_code == 302 and response["Location"] == "/settings/#tags-settings"
    tag = Tag.objects.get(client=client_a)
    assert (tag.name, tag.colour) == ("Refund", "red")
    call = CallFactory(client=client_a)
    tags.call_tags_set(call=call, actor=admin_a, tags=[tag])
    html = browser.get("/settings/").content.decode()
    assert "1 call" in html and "deleting it takes it off them" in html

    prefix = f"tag-{tag.public_id}"
    response = browser.post(
        f"/settings/tags/{tag.public_id}/", {f"{prefix}-name": "Refunds", f"{prefix}-colour": "green"}
    )
    assert response.status_code == 302
    tag.refresh_from_db()
    assert (tag.name, tag.colour) == ("Refunds", "green")

    response = browser.post(f"/settings/tags/{tag.public_id}/delete/")
    assert response.status_code == 302
    assert not Tag.objects.exists() and not CallTag.objects.exists()
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == [
        AuditAction.TAG_CREATED,
        AuditAction.CALL_TAGS_CHANGED,
        AuditAction.TAG_UPDATED,
        AuditAction.TAG_DELETED,
    ]
    assert "taken off 1 call" in browser.get("/settings/").content.decode()


@pytest.mark.parametrize(
    ("name", "message"),
    [("x" * 10_000, "at most 40"), ("", "required"), ("refund", "already a tag"), ("a,b", "comma")],
    ids=["10000 chars", "empty", "taken", "comma"],
)
def test_a_bad_new_tag_is_a_form_error_and_nothing_is_stored(page, alice, client_a, name, message):
    TagFactory(client=client_a, name="Refund")
    before = list(Tag.objects.values())
    response = page(alice).post("/settings/tags/", {"new-tag-name": name, "new-tag-colour": "grey"})
    assert response.status_code == 400
    assert message in " ".join(response.context["new_tag_form"].errors["name"]).lower()
    assert list(Tag.objects.values()) == before


def test_a_bad_rename_shows_on_its_row(page, alice, client_a):
    refund = TagFactory(client=client_a, name="refund")
    TagFactory(client=client_a, name="delivery")
    prefix = f"tag-{refund.public_id}"
    response = page(alice).post(
        f"/settings/tags/{refund.public_id}/", {f"{prefix}-name": "Delivery", f"{prefix}-colour": "grey"}
    )
    assert response.status_code == 400
    row = next(row for row in response.context["tag_rows"] if row["tag"].pk == refund.pk)
    assert "already a tag" in " ".join(row["form"].errors["name"])
    refund.refresh_from_db()
    assert refund.name == "refund"


def test_another_companys_tag_is_not_found_on_the_page(page, alice, client_b):
    foreign = TagFactory(client=client_b, name="theirs")
    browser = page(alice)
    prefix = f"tag-{foreign.public_id}"
    assert (
        browser.post(
            f"/settings/tags/{foreign.public_id}/", {f"{prefix}-name": "mine", f"{prefix}-colour": "red"}
        ).status_code
        == 404
    )
    assert browser.post(f"/settings/tags/{foreign.public_id}/delete/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.name == "theirs"


# --- recording retention --------------------------------------------------------------------------------


def test_an_owner_sets_and_clears_retention_audited(page, alice, client_a):
    browser = page(alice)
    response = browser.post("/settings/recording-retention/", {"retention-recording_retention_days": "120"})
    assert response.status_code == 302 and response["Location"] == "/settings/#retention-settings"
    client_a.refresh_from_db()
    assert client_a.recording_retention_days == 120
    browser.post("/settings/recording-retention/", {"retention-recording_retention_days": ""})
    client_a.refresh_from_db()
    assert client_a.recording_retention_days is None
    events = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED).order_by("pk")
    assert [event.metadata for event in events] == [
        {"recording_retention_days": {"old": "None", "new": "120"}},
        {"recording_retention_days": {"old": "120", "new": "None"}},
    ]


def test_an_admin_sees_retention_but_cannot_change_it(page, admin_a, client_a):
    Client.objects.filter(pk=client_a.pk).update(recording_retention_days=365)
    browser = page(admin_a)
    html = browser.get("/settings/").content.decode()
    assert "older than 365 days are deleted" in html and "Only an owner" in html
    assert "retention-recording_retention_days" not in html
    response = browser.post("/settings/recording-retention/", {"retention-recording_retention_days": "30"})
    assert response.status_code == 403
    client_a.refresh_from_db()
    assert client_a.recording_retention_days == 365


@pytest.mark.parametrize("value", ["0", "-5", "3651", "ten", "1e3", "9" * 50])
def test_retention_out_of_range_is_a_form_error(page, alice, client_a, value):
    response = page(alice).post("/settings/recording-retention/", {"retention-recording_retention_days": value})
    assert response.status_code == 400 and response.context["retention_form"].errors
    client_a.refresh_from_db()
    assert client_a.recording_retention_days is None
    assert not AuditEvent.objects.exists()


# --- the API's retention endpoint ---------------------------------------------------------------------


def test_the_api_lets_only_an_owner_change_retention(api, alice, admin_a, bob, client_a):
    def as_user(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    url = "/api/v1/client/recording-retention"
    assert as_user(bob).get(url).status_code == 403
    assert as_user(admin_a).get(url).json()["data"] == {"recording_retention_days": None}
    refused = as_user(admin_a).put(url, {"recording_retention_days": 30}, format="json")
    assert refused.status_code == 403 and "owner" in refused.json()["error"]["message"]
    for bad in (0, 3651, "30", 1.5):
        assert as_user(alice).put(url, {"recording_retention_days": bad}, format="json").status_code == 400
    assert as_user(alice).put(url, {}, format="json").status_code == 400
    client_a.refresh_from_db()
    assert client_a.recording_retention_days is None and not AuditEvent.objects.exists()
    response = as_user(alice).put(url, {"recording_retention_days": 400}, format="json")
    assert response.status_code == 200 and response.json()["data"] == {"recording_retention_days": 400}
    [event] = AuditEvent.objects.filter(action=AuditAction.CLIENT_SETTINGS_CHANGED)
    assert event.actor == alice


def test_it_lists_the_team_phone_numbers_of_its_own_client_and_links_to_manage_them(page, alice, bob, charlie):
    accounts_services.member_phone_add(actor=alice, member=bob, number="+919900055501", label="Desk")
    accounts_services.member_phone_add(actor=charlie, member=charlie, number="+919900055502")

    html = page(alice).get("/settings/").content.decode()

    assert "Team phone numbers" in html and 'href="/settings/phones/"' in html
    assert "+919900055501" in html and "Desk" in html
    assert "+919900055502" not in html  # another company's member
