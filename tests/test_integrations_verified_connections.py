"""Credentials are checked with the provider when they are saved, and a Shopify shop is claimed only by
a connection whose token Shopify accepted for that very shop.

Squatting used to work: any client could save any *.myshopify.com domain with a junk token, and the
shop's real owner then got "Another Caly account is already connected to this shop" (which also told
anyone which shops use Caly). The fake Shopify and Exotel on 127.0.0.1 play the providers.
"""

import pytest

from accounts import jwt
from integrations.models import ExotelConnection, ShopifyConnection
from integrations.services import SHOP_NOT_AVAILABLE, connection_check_record
from integrations.shopify.credentials import shopify_credentials_check
from tests import shopify_fake
from tests.exotel_fake import ACCOUNT_SID, API_KEY, API_TOKEN, exotel_fixture  # noqa: F401
from tests.shopify_fake import ACCESS_TOKEN, SHOP_DOMAIN, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

SHOPIFY = "/api/v1/integrations/shopify"
EXOTEL = "/api/v1/integrations/exotel"
OTHER_SHOP_TOKEN = "shpat_token_of_another_shop_5e6f"
LEAKS = ("Another Caly account", "already connected", "Acme Apparel", "acme-apparel")


@pytest.fixture
def shopify(settings):
    with shopify_fake.serve(settings) as fake:
        fake.other_shops[OTHER_SHOP_TOKEN] = "other-shop.myshopify.com"
        yield fake


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


def connect_shopify(api, token=ACCESS_TOKEN, domain=SHOP_DOMAIN):
    return api.put(
        SHOPIFY, {"shop_domain": domain, "access_token": token, "webhook_secret": WEBHOOK_SECRET}, format="json"
    )


def error(response) -> dict:
    return response.json()["error"]


# --- Shopify: only a token Shopify accepts for the shop claims it -----------------------------------


def test_a_junk_token_claims_nothing_and_the_real_owner_then_connects(as_user, shopify, alice, charlie):
    squat = connect_shopify(as_user(charlie), token="shpat_junk_0000000000")

    assert squat.status_code == 400 and error(squat)["code"] == "VALIDATION_ERROR"
    assert error(squat)["details"] == {"access_token": ["Shopify refused the access token."]}
    assert not ShopifyConnection.objects.exists()

    owner = connect_shopify(as_user(alice))

    assert owner.status_code == 200, owner.json()
    assert owner.json()["data"]["status"] == "verified"
    assert ShopifyConnection.objects.get().client == alice.client


@pytest.mark.parametrize("token", ["shpat_ünïcode", "shpat with spaces", "shpat_line\nbreak"])
def test_a_token_that_cannot_be_sent_is_a_400_not_a_500(as_user, shopify, alice, token):
    response = connect_shopify(as_user(alice), token=token)

    assert response.status_code == 400 and "access_token" in error(response)["details"]
    assert shopify.requests == [] and not ShopifyConnection.objects.exists()


def test_a_token_of_another_shop_does_not_claim_this_one(as_user, shopify, charlie):
    response = connect_shopify(as_user(charlie), token=OTHER_SHOP_TOKEN)

    assert response.status_code == 400
    assert error(response)["details"] == {"shop_domain": [f"Shopify says this access token is not for {SHOP_DOMAIN}."]}
    assert not ShopifyConnection.objects.exists()


def test_the_conflict_over_a_claimed_shop_tells_nothing_about_who_holds_it(as_user, shopify, alice, charlie, client):
    assert connect_shopify(as_user(alice)).status_code == 200

    api = connect_shopify(as_user(charlie))  # a second account the shop's staff hold a token for
    client.force_login(charlie)
    page = client.post(
        "/integrations/shopify/",
        {"shopify-shop_domain": SHOP_DOMAIN, "shopify-access_token": ACCESS_TOKEN, "shopify-api_version": ""},
    )

    assert api.status_code == 409 and error(api) == {"code": "CONFLICT", "message": SHOP_NOT_AVAILABLE}
    assert page.status_code == 400 and SHOP_NOT_AVAILABLE in page.content.decode()
    for leak in LEAKS:
        assert leak not in error(api)["message"]
    assert ShopifyConnection.objects.get().client == alice.client


def test_while_shopify_cannot_be_reached_a_connection_is_saved_unverified_and_claims_nothing(
    as_user, shopify, alice, charlie
):
    shopify.fail_next(503)
    first = connect_shopify(as_user(charlie))

    assert first.status_code == 200, first.json()
    data = first.json()["data"]
    assert (data["status"], data["verified_at"], data["check"]["status"]) == ("unverified", None, "failed")
    assert data["check"]["message"].startswith("Saved, not verified: Could not reach Shopify")
    assert "not linked to this account" in data["check"]["message"]

    owner = connect_shopify(as_user(alice))  # the unverified connection keeps no one out

    assert owner.status_code == 200 and owner.json()["data"]["status"] == "verified"
    test = as_user(charlie).post(f"{SHOPIFY}/test")
    assert test.json()["data"] == {"ok": False, "message": SHOP_NOT_AVAILABLE}
    assert as_user(charlie).get(SHOPIFY).json()["data"]["status"] == "unverified"


def test_a_token_shopify_no_longer_accepts_releases_the_shop(as_user, shopify, alice, charlie):
    assert connect_shopify(as_user(alice)).status_code == 200
    shopify.token = "shpat_reinstalled_elsewhere_9a8b"

    test = as_user(alice).post(f"{SHOPIFY}/test")

    assert test.json()["data"] == {"ok": False, "message": "Shopify refused the access token."}
    assert as_user(alice).get(SHOPIFY).json()["data"]["status"] == "unverified"
    assert connect_shopify(as_user(charlie), token="shpat_reinstalled_elsewhere_9a8b").status_code == 200


def test_an_unverified_connection_is_verified_by_a_check_that_passes(as_user, shopify, alice):
    shopify.fail_next(503)
    connect_shopify(as_user(alice))

    test = as_user(alice).post(f"{SHOPIFY}/test")

    assert test.json()["data"] == {"ok": True, "message": "Connected to Acme Apparel"}
    assert as_user(alice).get(SHOPIFY).json()["data"]["status"] == "verified"


def test_a_check_does_not_verify_credentials_saved_while_it_ran(as_user, shopify, alice):
    """The check asked about the token it was given; a token saved meanwhile stays unverified."""
    shopify.fail_next(503)
    connect_shopify(as_user(alice))
    checked = ShopifyConnection.objects.get()
    ShopifyConnection.objects.filter(pk=checked.pk).update(access_token="shpat_saved_while_checking_0123")

    result = connection_check_record(connection=checked, result=shopify_credentials_check(checked))

    assert (result.ok, result.message) == (False, "The connection changed while it was being checked; test it again.")
    assert ShopifyConnection.objects.get().verified_at is None


def test_the_integrations_page_says_a_connection_is_not_verified(shopify, alice, client):
    shopify.fail_next(503)
    client.force_login(alice)
    saved = client.post(
        "/integrations/shopify/",
        {"shopify-shop_domain": SHOP_DOMAIN, "shopify-access_token": ACCESS_TOKEN, "shopify-api_version": ""},
        follow=True,
    )

    body = saved.content.decode()
    assert "Shopify is not connected until a check passes." in body
    assert "Not connected: Shopify has not accepted" in body and f"{SHOP_DOMAIN} is not linked to this account" in body
    assert "Connected," not in body


def test_a_junk_token_is_refused_on_the_page_with_what_shopify_said(shopify, charlie, client):
    client.force_login(charlie)
    response = client.post(
        "/integrations/shopify/",
        {"shopify-shop_domain": SHOP_DOMAIN, "shopify-access_token": "shpat_junk", "shopify-api_version": ""},
    )

    assert response.status_code == 400
    assert "Shopify refused the access token." in response.content.decode()
    assert not ShopifyConnection.objects.exists()


# --- Exotel: the account SID must answer to the key and token ---------------------------------------


def exotel_body(exotel, **changes) -> dict:
    body = {
        "account_sid": ACCOUNT_SID,
        "api_key": API_KEY,
        "api_token": API_TOKEN,
        "api_host": exotel.host,
        "caller_ids": ["+918047112233"],
    }
    return {**body, **changes}


@pytest.mark.parametrize(
    ("change", "details"),
    [
        ({"api_token": "a-token-exotel-refuses"}, {"api_token": ["Exotel refused the API key and token."]}),
        ({"api_key": "a-key-exotel-refuses"}, {"api_token": ["Exotel refused the API key and token."]}),
        ({"account_sid": "someoneelse"}, {"account_sid": ["Exotel has no account with the SID someoneelse."]}),
    ],
    ids=["token", "key", "sid"],
)
def test_exotel_credentials_exotel_refuses_are_refused_with_what_exotel_said(as_user, exotel, alice, change, details):
    response = as_user(alice).put(EXOTEL, exotel_body(exotel, **change), format="json")

    assert response.status_code == 400
    assert error(response)["code"] == "VALIDATION_ERROR" and error(response)["details"] == details
    assert not ExotelConnection.objects.exists()
    [asked] = exotel.seen("/v1/Accounts/")
    assert asked.path.endswith("/Calls.json")


def test_changed_exotel_credentials_are_checked_before_they_replace_working_ones(as_user, exotel, alice):
    assert as_user(alice).put(EXOTEL, exotel_body(exotel), format="json").status_code == 200

    response = as_user(alice).patch(EXOTEL, {"api_token": "a-token-exotel-refuses"}, format="json")

    assert response.status_code == 400
    assert ExotelConnection.objects.get().api_token == API_TOKEN


def test_while_exotel_cannot_be_reached_the_credentials_are_saved_unverified(as_user, exotel, alice):
    exotel.script(f"/v1/Accounts/{ACCOUNT_SID}/Calls.json", 503)

    response = as_user(alice).put(EXOTEL, exotel_body(exotel), format="json")

    assert response.status_code == 200, response.json()
    data = response.json()["data"]
    assert (data["status"], data["check"]["status"]) == ("unverified", "failed")
    assert data["check"]["message"].startswith("Saved, not verified: Exotel answered HTTP 503.")


def test_the_exotel_page_refuses_credentials_exotel_refuses(exotel, alice, client):
    client.force_login(alice)
    response = client.post(
        "/integrations/exotel/",
        {
            "exotel-account_sid": ACCOUNT_SID,
            "exotel-api_key": API_KEY,
            "exotel-api_token": "a-token-exotel-refuses",
            "exotel-api_host": exotel.host,
            "exotel-caller_ids": "+918047112233",
        },
    )

    assert response.status_code == 400
    assert "Exotel refused the API key and token." in response.content.decode()
    assert not ExotelConnection.objects.exists()
