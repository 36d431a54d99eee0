"""The admin's sign-in and second-factor pages: Django's admin login behind the shared sign-in limits,
then enrolment of an authenticator app, the code page, and the staff member's own 2FA page."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_static.models import StaticDevice

from accounts import ratelimits, staff_auth
from accounts.audit import staff_audit_record
from accounts.models import StaffAuditAction, User
from accounts.views import next_path
from caly.foundation.api.errors import headers_for, status_for
from caly.foundation.errors import DomainError, ErrorCode

RECOVERY_CODES_SESSION_KEY = "staff_2fa_new_recovery_codes"
ENROLMENT_DEVICE_SESSION_KEY = "staff_2fa_enrolment_device"  # the key this session shows, and only it may be enrolled


def _page(request, template: str, title: str, context: dict | None = None, *, status: int = 200, headers=None):
    context = {**admin.site.each_context(request), "title": title, **(context or {})}
    return TemplateResponse(request, template, context, status=status, headers=headers)


def _to(name: str, next_url: str) -> HttpResponse:
    return redirect(f"{reverse(name)}?{urlencode({'next': next_url})}")


def _safe_next(request: HttpRequest) -> str:
    return next_path(request) or reverse("admin:index")


def _staff_session(view):
    """A signed-in staff member (password given); anyone else goes to the admin's sign-in page."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not (user.is_active and user.is_staff):
            return _to("admin:login", request.path)
        return view(request, *args, **kwargs)

    return never_cache(wrapped)


# --- the admin's sign-in -------------------------------------------------------------------------


@sensitive_post_parameters()
@csrf_protect
@never_cache
def login(request: HttpRequest) -> HttpResponse:
    """Django's admin login, counted with every other sign-in per account and per address.

    A refused attempt checks no password: 429 past the limits.
    """
    if request.method != "POST":
        return admin.site.login(request)
    email = request.POST.get("username", "")
    known = User.objects.filter(email=email.strip().lower()).first()
    try:
        ratelimits.login_attempt(request, email)
    except DomainError as error:
        return _refused(request, error, email=email, known=known)
    response = admin.site.login(request)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if form is None:  # signed in: Django redirects onwards
        ratelimits.login_refund(request, email)
        required = staff_auth.two_factor_required(request.user)
        staff_audit_record(
            action=StaffAuditAction.LOGIN_SUCCEEDED,
            actor=request.user,
            email=email,
            details={"second_factor": "required" if required else "not required"},
        )
        return response
    if form.get_user() is not None:  # the right password of an account that is not staff
        ratelimits.login_refund(request, email)
        reason = "not staff"
    else:
        reason = "inactive" if known is not None and not known.is_active else "credentials"
    staff_audit_record(
        action=StaffAuditAction.LOGIN_FAILED,
        actor=known if known is not None and known.is_staff else None,
        email=email,
        details={"reason": reason, "account": _account_kind(known)},
    )
    return response


def _account_kind(user: User | None) -> str:
    if user is None:
        return "unknown"
    return "staff" if user.is_staff else "client user"


def _refused(request, error: DomainError, *, email: str, known: User | None) -> HttpResponse:
    if error.code != ErrorCode.RATE_LIMITED:
        raise error
    staff_audit_record(
        action=StaffAuditAction.LOGIN_RATE_LIMITED,
        actor=known if known is not None and known.is_staff else None,
        email=email,
        details={"account": _account_kind(known), "retry_after": str(error.retry_after or "")},
    )
    return _page(
        request,
        "admin/staff_login_refused.html",
        "Too many sign-in attempts",
        {"retry_after": error.retry_after},
        status=status_for(error),
        headers=headers_for(error),
    )


# --- second factor -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@_staff_session
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the key), confirm with a code from it."""
    user = request.user
    if staff_auth.two_factor_enrolled(user):
        target = "staff-2fa" if staff_auth.session_verified(request) else "staff-2fa-verify"
        return _to(target, _safe_next(request))
    device_id = request.session.get(ENROLMENT_DEVICE_SESSION_KEY)
    error = None
    if request.method == "POST":
        try:
            device, codes = staff_auth.totp_enrol(user=user, device_id=device_id, code=request.POST.get("code", ""))
        except DomainError as exc:
            error = exc
        else:
            request.session.pop(ENROLMENT_DEVICE_SESSION_KEY, None)
            staff_auth.mark_verified(request, device)
            request.session[RECOVERY_CODES_SESSION_KEY] = codes
            return _to("staff-2fa-codes", _safe_next(request))
    if staff_auth.two_factor_enrolled(user):  # another tab finished first
        return _to("staff-2fa-verify", _safe_next(request))
    device = staff_auth.totp_enrolment_device(user=user, device_id=device_id)
    request.session[ENROLMENT_DEVICE_SESSION_KEY] = device.pk
    context = {
        "qr_code": staff_auth.totp_qr_data_uri(device),
        "secret": staff_auth.totp_secret(device),
        "next": _safe_next(request),
        "error": error,
    }
    return _code_page(request, "admin/two_factor/enrol.html", "Set up two-factor authentication", context, error)


@require_http_methods(["GET", "POST"])
@_staff_session
def verify(request: HttpRequest) -> HttpResponse:
    """The code page: after the password, and again before sensitive actions."""
    user = request.user
    if not staff_auth.two_factor_enrolled(user):
        return _to("staff-2fa-enrol", _safe_next(request))
    error = None
    if request.method == "POST":
        try:
            device = staff_auth.code_verify(user=user, code=request.POST.get("code", ""))
        except DomainError as exc:
            error = exc
        else:
            staff_auth.mark_verified(request, device)
            if isinstance(device, StaticDevice):
                left = staff_auth.recovery_codes_left(user)
                messages.warning(request, f"Recovery code used: {left} left. Make new ones on your two-factor page.")
            return redirect(_safe_next(request))
    context = {"next": _safe_next(request), "recheck": bool(request.GET.get("recheck")), "error": error}
    return _code_page(request, "admin/two_factor/verify.html", "Enter your code", context, error)


def _code_page(request, template: str, title: str, context: dict, error: DomainError | None) -> HttpResponse:
    if error is None:
        return _page(request, template, title, context)
    return _page(request, template, title, context, status=status_for(error), headers=headers_for(error))


@require_http_methods(["GET"])
@_staff_session
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, shown once: they leave the session as this page shows them."""
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if not codes:
        return redirect("staff-2fa")
    return _page(
        request,
        "admin/two_factor/recovery_codes.html",
        "Your recovery codes",
        {"codes": codes, "next": _safe_next(request)},
    )


@require_http_methods(["GET", "POST"])
@_staff_session
def overview(request: HttpRequest) -> HttpResponse:
    """The staff member's own two-factor page: status, recovery codes left, new recovery codes."""
    user = request.user
    enrolled = staff_auth.two_factor_enrolled(user)
    if request.method == "POST" and enrolled:
        recheck = staff_auth.recheck_redirect(request, request.path)
        if recheck is not None:
            return recheck
        request.session[RECOVERY_CODES_SESSION_KEY] = staff_auth.recovery_codes_replace(user=user)
        return redirect("staff-2fa-codes")
    context = {
        "enrolled": enrolled,
        "codes_left": staff_auth.recovery_codes_left(user) if enrolled else 0,
        "required": staff_auth.two_factor_required(user),
    }
    return _page(request, "admin/two_factor/overview.html", "Two-factor authentication", context)
