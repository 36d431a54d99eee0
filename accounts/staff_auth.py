"""Staff sign-in's second factor: an authenticator app (django-otp's TOTP) and single-use recovery codes.

A staff member who must give a code (every one with STAFF_REQUIRE_2FA on, and anyone who enrolled
anyway) is signed in to nothing but the code page until a code is accepted: the middleware below
holds admin requests at the enrolment or code page and treats the session as signed out elsewhere.
Sensitive admin actions ask again when the last accepted code is older than STAFF_2FA_RECHECK_MINUTES.

Every enrolment, accepted or refused code, recovery-code use and reset goes to the staff audit log.
"""

from __future__ import annotations

import base64
import functools
import math
import re
import time
from urllib.parse import urlencode

import django_otp
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import staff_audit_record
from accounts.models import StaffAuditAction, User
from caly.foundation.errors import DomainError, ErrorCode

VERIFIED_AT_SESSION_KEY = "staff_2fa_verified_at"
TOTP_DIGITS = re.compile(r"[0-9]{6}")


# --- who must give a code ------------------------------------------------------------------------


def two_factor_enrolled(user: User) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def two_factor_required(user) -> bool:
    """Whether this signed-in user must give a code: staff, when STAFF_REQUIRE_2FA is on or they enrolled."""
    return bool(user.is_authenticated and user.is_staff and (settings.STAFF_REQUIRE_2FA or two_factor_enrolled(user)))


def session_verified(request: HttpRequest) -> bool:
    """A code was accepted in this session for the device still enrolled (a reset ends it)."""
    return request.user.is_verified()


def recently_verified(request: HttpRequest) -> bool:
    """True when a code was accepted within STAFF_2FA_RECHECK_MINUTES, or when this user gives no codes."""
    if not two_factor_required(request.user):
        return True
    verified_at = request.session.get(VERIFIED_AT_SESSION_KEY)
    fresh = verified_at is not None and time.time() - verified_at <= settings.STAFF_2FA_RECHECK_MINUTES * 60
    return fresh and session_verified(request)


def recheck_redirect(request: HttpRequest, next_url: str) -> HttpResponse | None:
    """For a sensitive action: a redirect to the code page when the last code is too old, else None."""
    if recently_verified(request):
        return None
    query = urlencode({"next": next_url, "recheck": "1"})
    return redirect(f"{reverse('staff-2fa-verify')}?{query}")


def mark_verified(request: HttpRequest, device: Device) -> None:
    """Hold the accepted device in the session (django-otp) and when; a new session key, as at sign-in."""
    django_otp.login(request, device)
    request.session[VERIFIED_AT_SESSION_KEY] = time.time()
    request.session.cycle_key()


# The admin pages a staff session reaches before its code: signing in and out, enrolling, giving a code.
OPEN_ADMIN_PAGES = ("admin:login", "admin:logout", "staff-2fa-enrol", "staff-2fa-verify")


class StaffTwoFactorMiddleware:
    """Until a staff member who must give a code has given one: admin pages redirect to the enrolment
    page (no authenticator yet) or the code page, and every other page sees an anonymous visitor.
    Installed after django-otp's OTPMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(reverse("admin:index")):
            request.user = SimpleLazyObject(functools.partial(_outside_admin, request.user))
            return self.get_response(request)
        if not _awaits_code(request.user) or request.path in {reverse(name) for name in OPEN_ADMIN_PAGES}:
            return self.get_response(request)
        target = "staff-2fa-verify" if two_factor_enrolled(request.user) else "staff-2fa-enrol"
        next_url = request.get_full_path() if request.method in ("GET", "HEAD") else request.path
        return redirect(f"{reverse(target)}?{urlencode({'next': next_url})}")


def _awaits_code(user) -> bool:
    return user.is_authenticated and user.is_staff and not user.is_verified() and two_factor_required(user)


def _outside_admin(user):
    return AnonymousUser() if _awaits_code(user) else user


# --- enrolment -----------------------------------------------------------------------------------


def totp_enrolment_device(*, user: User, device_id: int | None) -> TOTPDevice:
    """The authenticator this session is enrolling: `device_id` while it is unconfirmed, else a new one.

    Each session gets a key of its own, and a new one drops any other unconfirmed key: a key shown to
    another session (someone else who had the password) can never be the one enrolled.
    Raises DomainError(CONFLICT) when one is enrolled already: a new one needs a reset first.
    """
    if two_factor_enrolled(user):
        raise DomainError(ErrorCode.CONFLICT, "An authenticator is already enrolled for this account.")
    unconfirmed = TOTPDevice.objects.devices_for_user(user, confirmed=False)
    device = unconfirmed.filter(pk=device_id).first() if device_id is not None else None
    if device is None:
        unconfirmed.delete()
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def totp_qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// enrolment link as an SVG QR code in a data: URI (the CSP allows data: images)."""
    svg = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def totp_secret(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for typing into an app that cannot scan."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_enrol(*, user: User, device_id: int | None, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the authenticator this session is enrolling with a code from it; returns it and new recovery codes.

    Raises DomainError: CONFLICT (one is enrolled already), VALIDATION_ERROR (wrong code, or the key shown
    is no longer the one being enrolled), RATE_LIMITED (too many wrong codes in a row). Refusals are audited.
    """
    if two_factor_enrolled(user):
        raise DomainError(ErrorCode.CONFLICT, "An authenticator is already enrolled for this account.")
    unconfirmed = TOTPDevice.objects.devices_for_user(user, confirmed=False)
    device = unconfirmed.filter(pk=device_id).first() if device_id is not None else None
    if device is None:
        raise DomainError(
            ErrorCode.VALIDATION_ERROR, "That key has been replaced: scan the new code and enter a code from it."
        )
    _verify(user=user, device=device, code=_normalized(code), stage="enrolment")
    with transaction.atomic():
        if two_factor_enrolled(user):  # another tab finished first
            raise DomainError(ErrorCode.CONFLICT, "An authenticator is already enrolled for this account.")
        TOTPDevice.objects.devices_for_user(user, confirmed=False).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user)
        staff_audit_record(action=StaffAuditAction.TWO_FACTOR_ENROLLED, actor=user, email=user.email)
    return device, codes


def recovery_codes_replace(*, user: User) -> list[str]:
    """New recovery codes for an enrolled staff member; the old ones stop working. Audited."""
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
        staff_audit_record(
            action=StaffAuditAction.RECOVERY_CODES_REPLACED, actor=user, email=user.email, details={"count": len(codes)}
        )
    return codes


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.STAFF_2FA_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- codes ---------------------------------------------------------------------------------------


def code_verify(*, user: User, code: str) -> Device:
    """The device that accepts this code: six digits from the authenticator, or an unused recovery code.

    A recovery code is spent by its use. Raises DomainError: VALIDATION_ERROR (wrong code, or nothing
    enrolled), RATE_LIMITED (too many wrong codes in a row, with Retry-After). Every outcome is audited.
    """
    code = _normalized(code)
    is_totp = bool(TOTP_DIGITS.fullmatch(code))
    model = TOTPDevice if is_totp else StaticDevice
    device = model.objects.devices_for_user(user, confirmed=True).first()
    if device is None:
        _refused(user, reason="not enrolled", stage="sign-in")
        raise DomainError(ErrorCode.VALIDATION_ERROR, "That code is not right.", details={"code": ["Wrong code."]})
    _verify(user=user, device=device, code=code, stage="sign-in")
    if is_totp:
        staff_audit_record(action=StaffAuditAction.TWO_FACTOR_VERIFIED, actor=user, email=user.email)
    else:
        staff_audit_record(
            action=StaffAuditAction.RECOVERY_CODE_USED,
            actor=user,
            email=user.email,
            details={"codes_left": recovery_codes_left(user)},
        )
    return device


def _normalized(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()[:32]


def _verify(*, user: User, device: Device, code: str, stage: str) -> None:
    """Check the code against the device under its row lock (django-otp throttles wrong guesses)."""
    allowed, throttle = device.verify_is_allowed()
    if not allowed:
        retry_after = max(1, math.ceil((throttle["locked_until"] - timezone.now()).total_seconds()))
        _refused(user, reason="throttled", stage=stage)
        raise DomainError(
            ErrorCode.RATE_LIMITED,
            f"Too many wrong codes; try again in {retry_after} seconds.",
            retry_after=retry_after,
        )
    if django_otp.verify_token(user, device.persistent_id, code) is None:
        _refused(user, reason="wrong code", stage=stage)
        raise DomainError(ErrorCode.VALIDATION_ERROR, "That code is not right.", details={"code": ["Wrong code."]})


def _refused(user: User, *, reason: str, stage: str) -> None:
    staff_audit_record(
        action=StaffAuditAction.TWO_FACTOR_FAILED,
        actor=user,
        email=user.email,
        details={"reason": reason, "stage": stage},
    )


# --- reset ---------------------------------------------------------------------------------------


@transaction.atomic
def two_factor_reset(*, user: User, actor: User | None, channel: str) -> bool:
    """Remove the staff member's authenticator and recovery codes; they enrol again at their next sign-in.

    Their sessions stop counting as verified at once. Returns whether there was anything to remove. Audited.
    """
    removed = TOTPDevice.objects.filter(user=user).delete()[0] + StaticDevice.objects.filter(user=user).delete()[0]
    staff_audit_record(
        action=StaffAuditAction.TWO_FACTOR_RESET,
        actor=actor,
        email=user.email,
        details={"channel": channel, "user": str(user.public_id), "had_devices": bool(removed)},
    )
    return bool(removed)
