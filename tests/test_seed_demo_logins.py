"""`seed_demo`'s logins: one per role, the same passwords on every run, each printed with where it signs in."""

import io
import re

import pytest
from django.core.management import call_command

from accounts.models import User
from accounts.roles import Role

pytestmark = pytest.mark.django_db

LOGIN_LINE = re.compile(r"^  (\w+): +(\S+) +password: (\S+) +sign in at (\S+)$")


@pytest.fixture(autouse=True)
def debug(settings):
    settings.DEBUG = True


def seed_output(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--calls", "0", "--no-audio", "--products", "0", *args, stdout=out)
    return out.getvalue()


def seed(*args) -> dict[str, tuple[str, str, str]]:
    """Seed and read the printed logins: {label: (email, password, sign-in URL)}."""
    lines = [LOGIN_LINE.match(line) for line in seed_output(*args).splitlines()]
    return {m[1]: (m[2], m[3], m[4]) for m in lines if m}


def test_it_seeds_staff_and_every_client_role(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    logins = seed()

    assert list(logins) == ["staff", "owner", "admin", "agent", "viewer"]
    assert logins["staff"][2] == "http://127.0.0.1:8000/admin/"
    for role in Role:
        email, _, where = logins[role.value]
        assert where == "http://127.0.0.1:8000/accounts/login/"
        user = User.objects.get(email=email)
        assert user.role == role and user.client.slug == "demo-store" and not user.is_staff


def test_every_printed_login_signs_in_where_it_says(client):
    logins = seed()

    email, password, _ = logins["staff"]
    response = client.post("/admin/login/?next=/admin/", {"username": email, "password": password})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    for role in Role:
        client.logout()
        email, password, _ = logins[role.value]
        response = client.post("/accounts/login/", {"email": email, "password": password})
        assert response.status_code == 302, role
        assert client.get("/").status_code == 302  # a signed-in member goes to the dashboard


def test_it_prints_the_same_passwords_on_every_run():
    first = seed()
    second = seed()

    assert first == second
    assert User.objects.count() == 5


def test_a_changed_password_is_kept_until_reset_passwords():
    first = seed()
    owner = User.objects.get(email=first["owner"][0])
    owner.set_password("a-password-the-owner-chose")
    owner.save()

    out = seed_output()
    assert "owner@demo-store.caly.local" in out and "password: (changed since; --reset-passwords sets it back)" in out
    owner.refresh_from_db()
    assert owner.check_password("a-password-the-owner-chose")

    reset = seed("--reset-passwords")
    owner.refresh_from_db()
    assert reset == first and owner.check_password(first["owner"][1])


def test_the_sign_in_links_follow_site_url(settings):
    settings.SITE_URL = "http://127.0.0.1:8001"

    logins = seed()

    assert {where for _, _, where in logins.values()} == {
        "http://127.0.0.1:8001/admin/",
        "http://127.0.0.1:8001/accounts/login/",
    }


def test_the_passwords_come_from_this_installations_own_secret(settings, tmp_path):
    """Not from SECRET_KEY, which every checkout running the development settings shares."""
    settings.DEMO_SECRET_PATH = tmp_path / "one" / ".demo-secret"
    settings.DEMO_SECRET_PATH.parent.mkdir()
    first = seed()
    assert settings.DEMO_SECRET_PATH.stat().st_mode & 0o777 == 0o600

    settings.DEMO_SECRET_PATH = tmp_path / ".demo-secret-of-another-checkout"
    other = seed("--reset-passwords")

    assert {email for email, _, _ in first.values()} == {email for email, _, _ in other.values()}
    assert not {password for _, password, _ in first.values()} & {password for _, password, _ in other.values()}
