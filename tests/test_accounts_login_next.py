"""Where the sign-in page sends someone: `next` is only ever a path on this site, never a URL name or another host."""

import pytest

from accounts.models import AuditAction, AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

HOSTILE_NEXT = [
    "foo",  # once resolved as a URL name: NoReverseMatch, a 500 after the sign-in was audited
    "accounts:team",  # a URL name that exists: not a path, so not followed either
    "foo.example",
    "../admin/",
    "//evil.example/",
    "/\\evil.example/",
    "/\t/evil.example/",
    "///evil.example/",
    "https://evil.example/phish",
    "http:evil.example",
    "javascript:alert(1)",
    "/accounts/team/\r\nSet-Cookie: sessionid=x",
]


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_it_signs_in_and_lands_on_the_default_page_whatever_next_says(client, alice, next_url):
    response = client.post("/accounts/login/", {"email": alice.email, "password": PASSWORD, "next": next_url})

    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_user_id(client) == str(alice.pk)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, actor=alice).count() == 1


@pytest.mark.parametrize("next_url", ["foo", "javascript:alert(1)", "//evil.example/"])
def test_it_ignores_a_hostile_next_in_the_query_string_too(client, alice, next_url):
    response = client.post(f"/accounts/login/?next={next_url}", {"email": alice.email, "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_user_id(client) == str(alice.pk)


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_it_does_not_carry_a_hostile_next_into_the_form(client, next_url):
    response = client.get("/accounts/login/", {"next": next_url})

    assert response.status_code == 200
    assert 'name="next"' not in response.content.decode()


@pytest.mark.parametrize("next_url", ["/accounts/team/", "/calls/?q=refund&page=2"])
def test_it_follows_a_path_on_this_site(client, alice, next_url):
    response = client.post("/accounts/login/", {"email": alice.email, "password": PASSWORD, "next": next_url})

    assert response.status_code == 302 and response["Location"] == next_url


def test_it_audits_no_sign_in_when_the_password_is_wrong_whatever_next_says(client, alice):
    response = client.post("/accounts/login/?next=foo", {"email": alice.email, "password": "wrong"})

    assert response.status_code == 200
    assert signed_in_user_id(client) is None
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED).exists()
