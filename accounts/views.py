"""The account pages (Django sessions and CSRF): sign-up, e-mail links, sign-in, profile and team.

Thin views over accounts.services, with the API's rules: the same rate limits and the same
errors, shown next to the fields they name. Pages of a client's data declare the capability
they need with @client_user_required; a member or invitation is always looked up within the
signed-in user's client, so another client's ids answer 404. The onboarding wizard's pages
work on the signed-in user's client only (caly/onboarding_views.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import forms, ratelimits, selectors, services
from accounts.models import Invitation, MemberPhone, User
from accounts.roles import Capability, Role, can
from caly.foundation.api.errors import headers_for, status_for
from caly.foundation.errors import DomainError, ErrorCode

SIGNUP_EMAIL_SESSION_KEY = "accounts.signup_email"

get_and_post = require_http_methods(["GET", "HEAD", "POST"])


def client_user_required(capability: Capability):
    """Signed-in users of an active client whose role has `capability`; anyone else signed in gets the 403 page."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if user.client is None or not user.client.is_active or not can(user.role, capability):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def _page(request, template: str, context: dict, *, error: DomainError | None = None) -> HttpResponse:
    """Render a form page; a rate-limited request answers 429, an unavailable limit 503, with its Retry-After."""
    if error is None or error.code not in (ErrorCode.RATE_LIMITED, ErrorCode.SERVICE_UNAVAILABLE):
        return render(request, template, context)
    response = render(request, template, context, status=status_for(error))
    for header, value in headers_for(error).items():
        response[header] = value
    return response


def _invalid_link(request, kind: str) -> HttpResponse:
    return render(request, "accounts/link_invalid.html", {"kind": kind}, status=400)


def _is_invalid_token(error: DomainError) -> bool:
    return error.code == ErrorCode.VALIDATION_ERROR and "token" in (error.details or {})


def next_path(request) -> str:
    """Where to go after signing in: a path on this site, or "" (never another host, never a URL name)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    is_local_path = (
        candidate.startswith("/")
        and candidate.isprintable()
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    )
    return candidate if is_local_path else ""


def _sign_in(request, user: User) -> None:
    auth.login(request, user)
    services.user_record_login(user=user, channel="web")  # audited once the session exists


# --- sign-up and e-mail verification -----------------------------------------------------------


@get_and_post
def signup(request: HttpRequest) -> HttpResponse:
    form = forms.SignupForm(request.POST or None)
    if request.method == "POST":
        try:
            ratelimits.enforce(request, group="register", rate_name="register_ip")
            if form.is_valid():
                data = form.cleaned_data
                # A taken address gets the same page: its owner is e-mailed instead (the service's rule).
                services.client_register(
                    company_name=data["company_name"],
                    email=data["email"],
                    password=data["password"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                )
                request.session[SIGNUP_EMAIL_SESSION_KEY] = data["email"].lower()
                return redirect("accounts:signup-done")
        except DomainError as error:
            form.add_service_error(error, field="email")
            return _page(request, "accounts/signup.html", {"form": form}, error=error)
    return render(request, "accounts/signup.html", {"form": form})


@require_safe
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_done.html", {"email": request.session.get(SIGNUP_EMAIL_SESSION_KEY)})


@get_and_post
def verify(request: HttpRequest, token: str) -> HttpResponse:
    # GET only shows a button: link scanners that fetch e-mailed links must not spend the token.
    if request.method == "POST":
        try:
            services.email_verify(token=token)
        except DomainError as error:
            if _is_invalid_token(error):
                return _invalid_link(request, "verify")
            raise
        messages.success(request, "Your email address is verified. You can sign in now.")
        return redirect("accounts:login")
    return render(request, "accounts/verify.html")


def _email_link_request(request, *, template: str, send: Callable[[str], None], sent: str) -> HttpResponse:
    """A form asking for an e-mailed link: rate-limited, and the same answer whether the address is known or not."""
    form = forms.EmailForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST":
        try:
            ratelimits.enforce(request, group="email-links", rate_name="password_reset_ip")
        except DomainError as error:
            form.add_service_error(error)
            return _page(request, template, {"form": form}, error=error)
        if form.is_valid():
            send(form.cleaned_data["email"])
            messages.success(request, sent)
            return redirect(request.path)
    return render(request, template, {"form": form})


@get_and_post
def verify_resend(request: HttpRequest) -> HttpResponse:
    return _email_link_request(
        request,
        template="accounts/verify_resend.html",
        send=lambda email: services.email_verification_resend_request(email=email),
        sent="If an unverified account has this address, a new link is on its way. Check your inbox.",
    )


# --- sign-in -----------------------------------------------------------------------------------


@get_and_post
def login(request: HttpRequest) -> HttpResponse:
    form = forms.LoginForm(request.POST or None)
    context = {"form": form, "next": next_path(request)}
    if request.method == "POST" and form.is_valid():
        email, password = form.cleaned_data["email"], form.cleaned_data["password"]
        try:
            ratelimits.login_attempt(request, email)
            user = services.user_authenticate(email=email, password=password)
        except DomainError as error:
            if error.code not in (ErrorCode.TOKEN_INVALID, ErrorCode.RATE_LIMITED, ErrorCode.SERVICE_UNAVAILABLE):
                ratelimits.login_refund(request, email)  # right password, refused for another reason
            if error.code == ErrorCode.TOKEN_INVALID:
                form.add_error(None, "Wrong email or password.")
            else:
                context["unverified"] = error.code == ErrorCode.EMAIL_NOT_VERIFIED
                form.add_service_error(error)
            return _page(request, "accounts/login.html", context, error=error)
        ratelimits.login_refund(request, email)
        # A plain redirect to a checked path: redirect() would try `next` as a URL name first.
        response = HttpResponseRedirect(context["next"] or resolve_url(settings.LOGIN_REDIRECT_URL))
        _sign_in(request, user)
        return response
    return render(request, "accounts/login.html", context)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.user.client_id:
        services.user_record_logout(user=request.user, channel="web")
    auth.logout(request)
    messages.info(request, "You have signed out.")
    return redirect("home")


# --- passwords ---------------------------------------------------------------------------------


@get_and_post
def password_reset(request: HttpRequest) -> HttpResponse:
    return _email_link_request(
        request,
        template="accounts/password_reset.html",
        send=lambda email: services.password_reset_request(email=email),
        sent="If an account has this address, a reset link is on its way. Check your inbox.",
    )


@get_and_post
def password_reset_confirm(request: HttpRequest, token: str) -> HttpResponse:
    user = services.password_reset_user(token=token)
    if user is None:
        return _invalid_link(request, "reset")
    form = forms.NewPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_confirm(token=token, new_password=form.cleaned_data["new_password1"])
        except DomainError as error:
            if _is_invalid_token(error):
                return _invalid_link(request, "reset")
            form.add_service_error(error)
        else:
            messages.success(request, "Your password has been changed. Sign in with the new one.")
            return redirect("accounts:login")
    return render(request, "accounts/password_reset_confirm.html", {"form": form, "email": user.email})


# --- invitations -------------------------------------------------------------------------------


@get_and_post
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    pending = services.invitation_for_token(token)
    if pending is None:
        return _invalid_link(request, "invitation")
    form = forms.InvitationAcceptForm(request.POST or None, user=User(email=pending.email))
    context = {"form": form, "invitation": pending, "role": Role(pending.role).label}
    if request.method == "POST":
        try:
            ratelimits.enforce(request, group="register", rate_name="register_ip")
            if form.is_valid():
                user = services.invitation_accept(
                    token=token,
                    password=form.cleaned_data["new_password1"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                )
                _sign_in(request, user)
                messages.success(request, f"Welcome to {user.client.name}, {user.get_short_name()}!")
                return redirect("home")
        except DomainError as error:
            if _is_invalid_token(error):
                return _invalid_link(request, "invitation")
            form.add_service_error(error)
            return _page(request, "accounts/invitation.html", context, error=error)
    return render(request, "accounts/invitation.html", context)


# --- the signed-in user ------------------------------------------------------------------------


@client_user_required(Capability.READ)
@get_and_post
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    submitted = request.POST.get("form") if request.method == "POST" else None
    name_form = forms.ProfileForm(
        request.POST if submitted == "name" else None,
        initial={"first_name": user.first_name, "last_name": user.last_name},
        prefix="name",
    )
    password_form = forms.PasswordChangeForm(
        request.POST if submitted == "password" else None, prefix="password", user=user
    )
    if submitted == "name" and name_form.is_valid():
        try:
            services.user_update_profile(user=user, **name_form.cleaned_data)
        except DomainError as error:
            name_form.add_service_error(error)
        else:
            messages.success(request, "Your name is saved.")
            return redirect("accounts:profile")
    if submitted == "password" and password_form.is_valid():
        try:
            services.password_change(
                user=user,
                current_password=password_form.cleaned_data["current_password"],
                new_password=password_form.cleaned_data["new_password1"],
            )
        except DomainError as error:
            password_form.add_service_error(error)
        else:
            auth.update_session_auth_hash(request, user)
            messages.success(request, "Your password has been changed. Your other sign-ins have ended.")
            return redirect("accounts:profile")
    context = {"name_form": name_form, "password_form": password_form, "role": Role(user.role).label}
    return render(request, "accounts/profile.html", context)


# --- team --------------------------------------------------------------------------------------


def _member(request, public_id) -> User:
    return get_object_or_404(User.objects.for_client(request.user.client), public_id=public_id)


def _team_change(request, change: Callable[[], object], *, done: str) -> HttpResponse:
    """Run a team change; its confirmation, or the service's refusal, is shown on the team page."""
    try:
        change()
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("accounts:team")


@client_user_required(Capability.MANAGE_TEAM)
@get_and_post
def team(request: HttpRequest) -> HttpResponse:
    client = request.user.client
    form = forms.InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ratelimits.enforce(request, group="invitations", rate_name="invite_user", key="user")
            created, _ = services.invitation_create(
                actor=request.user, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
            )
        except DomainError as error:
            form.add_service_error(error, field="role" if error.code == ErrorCode.PERMISSION_DENIED else "email")
        else:
            messages.success(request, f"Invitation sent to {created.email}.")
            return redirect("accounts:team")
    context = {
        "form": form,
        "members": selectors.member_list(client=client),
        "invitations": selectors.invitation_list(client=client),
        "roles": Role.choices,
    }
    return render(request, "accounts/team.html", context)


@client_user_required(Capability.MANAGE_TEAM)
@require_POST
def member_role(request: HttpRequest, public_id) -> HttpResponse:
    member = _member(request, public_id)
    form = forms.MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("accounts:team")
    role = form.cleaned_data["role"]
    return _team_change(
        request,
        lambda: services.member_change_role(actor=request.user, member=member, role=role),
        done=f"{member.email} is now {Role(role).label.lower()}.",
    )


@client_user_required(Capability.MANAGE_TEAM)
@require_POST
def member_deactivate(request: HttpRequest, public_id) -> HttpResponse:
    member = _member(request, public_id)
    return _team_change(
        request,
        lambda: services.member_deactivate(actor=request.user, member=member),
        done=f"{member.email} is deactivated and signed out everywhere.",
    )


@client_user_required(Capability.MANAGE_TEAM)
@require_POST
def member_activate(request: HttpRequest, public_id) -> HttpResponse:
    member = _member(request, public_id)
    return _team_change(
        request,
        lambda: services.member_activate(actor=request.user, member=member),
        done=f"{member.email} can sign in again.",
    )


@client_user_required(Capability.MANAGE_TEAM)
@require_POST
def invitation_revoke(request: HttpRequest, public_id) -> HttpResponse:
    pending = get_object_or_404(Invitation.objects.for_client(request.user.client), public_id=public_id)
    return _team_change(
        request,
        lambda: services.invitation_revoke(actor=request.user, invitation=pending),
        done=f"The invitation for {pending.email} is revoked.",
    )


# --- phone numbers -----------------------------------------------------------------------------


@client_user_required(Capability.READ)
@get_and_post
def phones(request: HttpRequest) -> HttpResponse:
    """One's own phone numbers; admins and owners see and add every member's."""
    user = request.user
    manages_team = can(user.role, Capability.MANAGE_TEAM)
    members = selectors.member_list(client=user.client).filter(is_active=True) if manages_team else None
    form = forms.PhoneForm(request.POST or None, members=members, initial={"member": user.public_id})
    if request.method == "POST" and form.is_valid():
        member = form.cleaned_data.get("member") or user
        try:
            phone = services.member_phone_add(
                actor=user, member=member, number=form.cleaned_data["number"], label=form.cleaned_data["label"]
            )
        except DomainError as error:
            form.add_service_error(error, field="number")
        else:
            whose = "Your" if member.pk == user.pk else f"{member.get_full_name()}'s"
            messages.success(request, f"{whose} number {phone.number} is registered.")
            return redirect("phones:index")
    context = {
        "form": form,
        "my_phones": selectors.member_phone_list(client=user.client, user=user),
        "team_phones": selectors.member_phone_list(client=user.client) if manages_team else None,
        "can_place_calls": can(user.role, Capability.PLACE_CALLS),
    }
    return render(request, "accounts/phones.html", context, status=400 if form.errors else 200)


@client_user_required(Capability.READ)
@require_POST
def phone_remove(request: HttpRequest, public_id) -> HttpResponse:
    user = request.user
    phones_shown = MemberPhone.objects.for_client(user.client)
    if not can(user.role, Capability.MANAGE_TEAM):
        phones_shown = phones_shown.filter(user=user)
    phone = get_object_or_404(phones_shown.select_related("user"), public_id=public_id)
    try:
        services.member_phone_remove(actor=user, phone=phone)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{phone.number} is removed.")
    return redirect("phones:index")
