"""Staff second-factor helpers the staff sign-in tests share. Import the fixtures you use into the module:

    from tests.staff_two_factor import enrolled, two_factor_on, verified_staff  # noqa: F401

Codes come from django-otp's own TOTP, as an authenticator app would compute them from the key.
"""

import time
from dataclasses import dataclass

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import staff_auth
from tests.factories import PASSWORD


def totp_code(key: bytes, *, steps_ahead: int = 0) -> str:
    """The six digits an authenticator shows now, or `steps_ahead` 30-second steps from now.

    A code is accepted once, and only one newer than the last accepted: a test that gives two
    codes within one step gives the second one step ahead (the device tolerates one step of drift).
    """
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


@dataclass
class Enrolment:
    device: TOTPDevice
    recovery_codes: list[str]

    def code(self, *, steps_ahead: int = 0) -> str:
        return totp_code(self.device.bin_key, steps_ahead=steps_ahead)


@pytest.fixture
def two_factor_on(settings):
    settings.STAFF_REQUIRE_2FA = True


def enrol(user) -> Enrolment:
    device = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    return Enrolment(device=device, recovery_codes=staff_auth.recovery_codes_replace(user=user))


@pytest.fixture
def enrolled(staff) -> Enrolment:
    """`staff` with an authenticator and ten recovery codes."""
    return enrol(staff)


def sign_in(client, user, password=PASSWORD, code: str | None = None):
    """Password at /admin/login/, then the code (if given) at the code page; returns the last response."""
    response = client.post("/admin/login/", {"username": user.email, "password": password, "next": "/admin/"})
    if code is None:
        return response
    assert response.status_code == 302, response.content
    return client.post("/admin/2fa/verify/", {"code": code, "next": "/admin/"})


@pytest.fixture
def verified_staff(client, staff, enrolled, two_factor_on):
    """`client` signed in as `staff` with password and code: the admin is open."""
    response = sign_in(client, staff, code=enrolled.code())
    assert response.status_code == 302 and response["Location"] == "/admin/", response.content
    return client
