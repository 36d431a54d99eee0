"""Passwords: Argon2id with OWASP's parameters; hashes with Django's heavier defaults still work and are upgraded."""

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher as DjangoArgon2
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.test import override_settings

from tests.factories import UserFactory

HASHERS = ["accounts.hashers.Argon2PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
PASSWORD = "correct horse battery staple 42"


@override_settings(PASSWORD_HASHERS=HASHERS)
def test_new_hashes_use_19_mib_two_passes_one_lane():
    encoded = make_password(PASSWORD)
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password(PASSWORD, encoded) and not check_password("wrong", encoded)


@pytest.mark.django_db
@override_settings(PASSWORD_HASHERS=HASHERS)
def test_a_hash_with_djangos_defaults_verifies_and_is_upgraded_at_the_next_sign_in(api):
    user = UserFactory(email="old-hash@example.com")
    user.password = DjangoArgon2().encode(PASSWORD, DjangoArgon2().salt())
    user.save(update_fields=["password"])
    assert "m=102400,t=2,p=8" in user.password

    response = api.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert "m=19456,t=2,p=1" in user.password and identify_hasher(user.password).algorithm == "argon2"
