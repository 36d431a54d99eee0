"""Accounts API: thin views over accounts.services; every tenant view declares its capabilities."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from accounts import api_keys, jwt, ratelimits, selectors, services
from accounts.api import serializers as s
from accounts.api.base import PublicAPIView, TenantAPIView
from accounts.models import ApiKey, AuditAction, AuditEvent, Invitation, MemberPhone, User
from accounts.roles import Capability
from caly.foundation import context
from caly.foundation.api.pagination import KeysetPagination
from caly.foundation.errors import DomainError, ErrorCode

AUTH_TAG = ["auth"]
TEAM_TAG = ["team"]
SIGNUP_RECEIVED = "Check your inbox: the email we sent you says how to continue."


def _detail(message: str, status_code: int = status.HTTP_200_OK) -> Response:
    return Response({"detail": message}, status=status_code)


def _request_origin() -> tuple[str | None, str]:
    current = context.current()
    extra = current.extra if current else {}
    return extra.get("ip"), extra.get("user_agent", "")


def _no_store(response: Response) -> Response:
    """Answers that carry tokens must never be cached (RFC 6749 §5.1)."""
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _sign_in(user: User, status_code: int = status.HTTP_200_OK) -> Response:
    ip, user_agent = _request_origin()
    pair = services.auth_login(user=user, ip=ip, user_agent=user_agent)
    return _no_store(Response({"tokens": pair.as_dict(), "user": s.ProfileSerializer(user).data}, status=status_code))


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- public: sign-up, sign-in, passwords, invitations ------------------------------------------


class RegisterView(PublicAPIView):
    serializer_class = s.RegisterSerializer

    @extend_schema(
        tags=AUTH_TAG,
        responses={201: s.MessageSerializer},
        summary="Sign up a company and its owner",
        description=(
            "The same answer whether or not the address already has an account: a new address gets a "
            "verification link, a taken one an email to its owner. Sign in once the address is verified."
        ),
    )
    def post(self, request):
        ratelimits.enforce(request, group="register", rate_name="register_ip")
        data = _valid(s.RegisterSerializer, request)
        services.client_register(
            company_name=data["company_name"],
            email=data["email"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            timezone_name=data["timezone"],
        )
        return _detail(SIGNUP_RECEIVED, status.HTTP_201_CREATED)


class VerifyEmailView(PublicAPIView):
    serializer_class = s.TokenSerializer

    @extend_schema(tags=AUTH_TAG, responses={200: s.ProfileSerializer}, summary="Verify an email address")
    def post(self, request):
        user = services.email_verify(token=_valid(s.TokenSerializer, request)["token"])
        return Response(s.ProfileSerializer(user).data)


class VerifyEmailResendView(PublicAPIView):
    serializer_class = s.EmailSerializer

    @extend_schema(tags=AUTH_TAG, responses={202: s.MessageSerializer}, summary="Send the verification email again")
    def post(self, request):
        ratelimits.enforce(request, group="email-links", rate_name="password_reset_ip")
        services.email_verification_resend_request(email=_valid(s.EmailSerializer, request)["email"])
        return _detail("If an unverified account has this address, a new link is on its way.", 202)


class LoginView(PublicAPIView):
    serializer_class = s.LoginSerializer

    @extend_schema(tags=AUTH_TAG, responses={200: s.SignInSerializer}, summary="Sign in: a token pair and the profile")
    def post(self, request):
        data = _valid(s.LoginSerializer, request)
        ratelimits.login_attempt(request, data["email"])
        try:
            user = services.user_authenticate(email=data["email"], password=data["password"])
        except DomainError as error:
            if error.code != ErrorCode.TOKEN_INVALID:  # right password, refused for another reason
                ratelimits.login_refund(request, data["email"])
            raise
        ratelimits.login_refund(request, data["email"])
        return _sign_in(user)


class RefreshView(PublicAPIView):
    serializer_class = s.RefreshSerializer

    @extend_schema(tags=AUTH_TAG, responses={200: s.TokenPairSerializer}, summary="Exchange a refresh token")
    def post(self, request):
        raw = _valid(s.RefreshSerializer, request)["refresh"]
        ratelimits.refresh_check(request, jwt.refresh_family_id(raw))
        pair, _ = jwt.family_rotate(raw=raw)
        return _no_store(Response(pair.as_dict()))


class LogoutView(PublicAPIView):
    serializer_class = s.RefreshSerializer

    @extend_schema(tags=AUTH_TAG, responses={200: s.MessageSerializer}, summary="Sign out (revoke the sign-in)")
    def post(self, request):
        services.auth_logout(refresh=_valid(s.RefreshSerializer, request)["refresh"])
        return _detail("Signed out.")


class PasswordResetRequestView(PublicAPIView):
    serializer_class = s.EmailSerializer

    @extend_schema(tags=AUTH_TAG, responses={202: s.MessageSerializer}, summary="Ask for a password reset link")
    def post(self, request):
        ratelimits.enforce(request, group="email-links", rate_name="password_reset_ip")
        services.password_reset_request(email=_valid(s.EmailSerializer, request)["email"])
        return _detail("If an account has this address, a reset link is on its way.", 202)


class PasswordResetConfirmView(PublicAPIView):
    serializer_class = s.PasswordResetConfirmSerializer

    @extend_schema(tags=AUTH_TAG, responses={200: s.MessageSerializer}, summary="Set a new password from a reset link")
    def post(self, request):
        data = _valid(s.PasswordResetConfirmSerializer, request)
        services.password_reset_confirm(token=data["token"], new_password=data["new_password"])
        return _detail("Your password has been changed; sign in with the new one.")


class InvitationAcceptView(PublicAPIView):
    serializer_class = s.InvitationAcceptSerializer

    @extend_schema(
        tags=AUTH_TAG,
        responses={
            201: s.SignInSerializer,
            409: OpenApiResponse(description="CONFLICT: your address already has an account, here or elsewhere"),
        },
        summary="Accept an invitation and sign in",
    )
    def post(self, request):
        ratelimits.enforce(request, group="register", rate_name="register_ip")
        data = _valid(s.InvitationAcceptSerializer, request)
        user = services.invitation_accept(
            token=data["token"], password=data["password"], first_name=data["first_name"], last_name=data["last_name"]
        )
        return _sign_in(user, status.HTTP_201_CREATED)


# --- the signed-in user and their client -------------------------------------------------------


class PasswordChangeView(TenantAPIView):
    capabilities = {"POST": Capability.READ}
    serializer_class = s.PasswordChangeSerializer

    @extend_schema(tags=AUTH_TAG, responses={200: s.SignInSerializer}, summary="Change your password")
    def post(self, request):
        data = _valid(s.PasswordChangeSerializer, request)
        user = services.password_change(
            user=request.user, current_password=data["current_password"], new_password=data["new_password"]
        )
        return _sign_in(user)  # every earlier sign-in ended; this one continues with fresh tokens


class MeView(TenantAPIView):
    capabilities = {"GET": Capability.READ, "PATCH": Capability.READ}
    serializer_class = s.ProfileSerializer

    @extend_schema(tags=["me"], summary="Your profile")
    def get(self, request):
        return Response(s.ProfileSerializer(request.user).data)

    @extend_schema(tags=["me"], request=s.ProfileUpdateSerializer, summary="Change your name")
    def patch(self, request):
        serializer = s.ProfileUpdateSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update_profile(user=request.user, **serializer.validated_data)
        return Response(s.ProfileSerializer(user).data)


class ClientView(TenantAPIView):
    capabilities = {"GET": Capability.READ, "PATCH": Capability.MANAGE_CLIENT}
    serializer_class = s.ClientSerializer

    @extend_schema(tags=["client"], summary="Your company")
    def get(self, request):
        return Response(s.ClientSerializer(self.client).data)

    @extend_schema(tags=["client"], request=s.ClientUpdateSerializer, summary="Change company details")
    def patch(self, request):
        serializer = s.ClientUpdateSerializer(self.client, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        client = services.client_update(client=self.client, actor=request.user, **serializer.validated_data)
        return Response(s.ClientSerializer(client).data)


class RecordingRetentionView(TenantAPIView):
    """Separate from the client's settings: only an owner may change it (deleting audio cannot be undone)."""

    capabilities = {"GET": Capability.MANAGE_CLIENT, "PUT": Capability.MANAGE_CLIENT}
    serializer_class = s.RecordingRetentionSerializer

    @extend_schema(tags=["client"], summary="How long your recordings are kept")
    def get(self, request):
        return Response({"recording_retention_days": self.client.recording_retention_days})

    @extend_schema(
        tags=["client"],
        request=s.RecordingRetentionSerializer,
        responses={200: s.RecordingRetentionSerializer, 403: OpenApiResponse(description="Not an owner")},
        summary="Change how long recordings are kept (owners)",
    )
    def put(self, request):
        days = _valid(s.RecordingRetentionSerializer, request)["recording_retention_days"]
        client = services.client_retention_set(client=self.client, actor=request.user, days=days)
        return Response({"recording_retention_days": client.recording_retention_days})


# --- team --------------------------------------------------------------------------------------


class MemberListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.MANAGE_TEAM}
    serializer_class = s.MemberSerializer
    queryset = User.objects.all()

    def get_tenant_queryset(self):
        return selectors.member_list(client=self.client)

    @extend_schema(tags=TEAM_TAG, summary="Your company's members")
    def get(self, request):
        return self.list(request)


class MemberDetailView(TenantAPIView):
    capabilities = {"GET": Capability.MANAGE_TEAM, "PATCH": Capability.MANAGE_TEAM}
    serializer_class = s.MemberSerializer
    queryset = User.objects.all()

    @extend_schema(tags=TEAM_TAG, summary="One member")
    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        tags=TEAM_TAG,
        request=s.MemberRoleSerializer,
        responses={
            200: s.MemberSerializer,
            409: OpenApiResponse(description="CONFLICT: the company's last owner cannot be given another role"),
        },
        summary="Change a member's role",
    )
    def patch(self, request, public_id):
        member = self.get_object()
        role = _valid(s.MemberRoleSerializer, request)["role"]
        member = services.member_change_role(actor=request.user, member=member, role=role)
        return Response(self.get_serializer(member).data)


class MemberDeactivateView(TenantAPIView):
    capabilities = {"POST": Capability.MANAGE_TEAM}
    serializer_class = s.MemberSerializer
    queryset = User.objects.all()

    @extend_schema(
        tags=TEAM_TAG,
        request=None,
        responses={
            200: s.MemberSerializer,
            409: OpenApiResponse(description="CONFLICT: the company's last owner cannot be deactivated"),
        },
        summary="Deactivate a member (never the last owner)",
    )
    def post(self, request, public_id):
        member = services.member_deactivate(actor=request.user, member=self.get_object())
        return Response(self.get_serializer(member).data)


class MemberActivateView(TenantAPIView):
    capabilities = {"POST": Capability.MANAGE_TEAM}
    serializer_class = s.MemberSerializer
    queryset = User.objects.all()

    @extend_schema(tags=TEAM_TAG, request=None, summary="Reactivate a member")
    def post(self, request, public_id):
        member = services.member_activate(actor=request.user, member=self.get_object())
        return Response(self.get_serializer(member).data)


class InvitationListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.MANAGE_TEAM, "POST": Capability.MANAGE_TEAM}
    serializer_class = s.InvitationSerializer
    queryset = Invitation.objects.all()

    def get_tenant_queryset(self):
        return selectors.invitation_list(client=self.client)

    @extend_schema(tags=TEAM_TAG, summary="Invitations, pending first")
    def get(self, request):
        return self.list(request)

    @extend_schema(
        tags=TEAM_TAG,
        request=s.InvitationCreateSerializer,
        responses={
            201: s.InvitationSerializer,
            409: OpenApiResponse(description="CONFLICT: the address is already a member or has a pending invitation"),
        },
    )
    def post(self, request):
        data = _valid(s.InvitationCreateSerializer, request)
        ratelimits.enforce(request, group="invitations", rate_name="invite_user", key="user")
        invitation, _ = services.invitation_create(actor=request.user, email=data["email"], role=data["role"])
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationRevokeView(TenantAPIView):
    capabilities = {"POST": Capability.MANAGE_TEAM}
    serializer_class = s.InvitationSerializer
    queryset = Invitation.objects.all()

    @extend_schema(
        tags=TEAM_TAG,
        request=None,
        responses={
            200: s.InvitationSerializer,
            409: OpenApiResponse(description="CONFLICT: the invitation is no longer pending"),
        },
        summary="Revoke a pending invitation",
    )
    def post(self, request, public_id):
        invitation = services.invitation_revoke(actor=request.user, invitation=self.get_object())
        return Response(self.get_serializer(invitation).data)


# --- phone numbers -----------------------------------------------------------------------------

PHONES_TAG = ["phones"]
PHONE_ADD_RESPONSES = {
    201: s.PhoneSerializer,
    409: OpenApiResponse(description="CONFLICT: the number is already registered in your company"),
}


class MyPhoneListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.READ, "POST": Capability.READ}
    serializer_class = s.PhoneSerializer
    queryset = MemberPhone.objects.all()

    def get_tenant_queryset(self):
        return selectors.member_phone_list(client=self.client, user=self.request.user)

    @extend_schema(tags=PHONES_TAG, summary="Your phone numbers (calls on them are yours; click-to-call rings them)")
    def get(self, request):
        return self.list(request)

    @extend_schema(
        tags=PHONES_TAG, request=s.PhoneCreateSerializer, responses=PHONE_ADD_RESPONSES, summary="Add a number"
    )
    def post(self, request):
        data = _valid(s.PhoneCreateSerializer, request)
        phone = services.member_phone_add(
            actor=request.user, member=request.user, number=data["number"], label=data["label"]
        )
        return Response(self.get_serializer(phone).data, status=status.HTTP_201_CREATED)


class MyPhoneDetailView(TenantAPIView):
    capabilities = {"DELETE": Capability.READ}
    serializer_class = s.PhoneSerializer
    queryset = MemberPhone.objects.all()

    def get_tenant_queryset(self):
        return selectors.member_phone_list(client=self.client, user=self.request.user)

    @extend_schema(tags=PHONES_TAG, request=None, responses={204: None}, summary="Remove one of your numbers")
    def delete(self, request, public_id):
        services.member_phone_remove(actor=request.user, phone=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamPhoneListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.MANAGE_TEAM, "POST": Capability.MANAGE_TEAM}
    serializer_class = s.PhoneSerializer
    queryset = MemberPhone.objects.all()

    def get_tenant_queryset(self):
        return selectors.member_phone_list(client=self.client)

    @extend_schema(tags=TEAM_TAG, summary="Every member's phone numbers")
    def get(self, request):
        return self.list(request)

    @extend_schema(
        tags=TEAM_TAG,
        request=s.TeamPhoneCreateSerializer,
        responses=PHONE_ADD_RESPONSES,
        summary="Add a number for a member",
    )
    def post(self, request):
        data = _valid(s.TeamPhoneCreateSerializer, request)
        member = User.objects.for_client(self.client).filter(public_id=data["member"]).first()
        if member is None:
            raise DomainError(
                ErrorCode.VALIDATION_ERROR,
                "The request is invalid.",
                details={"member": ["No member of your company has this id."]},
            )
        phone = services.member_phone_add(actor=request.user, member=member, number=data["number"], label=data["label"])
        return Response(self.get_serializer(phone).data, status=status.HTTP_201_CREATED)


class TeamPhoneDetailView(TenantAPIView):
    capabilities = {"DELETE": Capability.MANAGE_TEAM}
    serializer_class = s.PhoneSerializer
    queryset = MemberPhone.objects.all()

    @extend_schema(tags=TEAM_TAG, request=None, responses={204: None}, summary="Remove a member's number")
    def delete(self, request, public_id):
        services.member_phone_remove(actor=request.user, phone=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- audit log ---------------------------------------------------------------------------------


class AuditEventListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.VIEW_AUDIT}
    serializer_class = s.AuditEventSerializer
    queryset = AuditEvent.objects.all()
    pagination_class = KeysetPagination
    keyset_ordering = ("-created_at", "-id")

    def get_tenant_queryset(self):
        # A plain dict: in a QueryDict DRF reads `?action=` as "not given" instead of invalid.
        filters = s.AuditEventFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        actor = None
        if "actor" in data:
            actor = User.objects.for_client(self.client).filter(public_id=data["actor"]).first()
            if actor is None:
                return AuditEvent.objects.none()
        return selectors.audit_event_list(
            client=self.client,
            action=data.get("action"),
            actor=actor,
            created_after=data.get("created_after"),
            created_before=data.get("created_before"),
        )

    @extend_schema(
        tags=["audit"],
        summary="Your company's audit log, newest first",
        parameters=[
            OpenApiParameter("action", str, enum=[action.value for action in AuditAction]),
            OpenApiParameter("actor", str, description="A member's id"),
            OpenApiParameter("created_after", str, description="ISO 8601 date-time, inclusive"),
            OpenApiParameter("created_before", str, description="ISO 8601 date-time, exclusive"),
        ],
    )
    def get(self, request):
        return self.list(request)


# --- API keys ----------------------------------------------------------------------------------

KEYS_TAG = ["api keys"]
# Keys are managed by people: signed in with a password (JWT or the session), never with a key.
PEOPLE_ONLY = [{"jwtAuth": []}, {"cookieAuth": []}]


class ApiKeyListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.MANAGE_DEVELOPERS, "POST": Capability.MANAGE_DEVELOPERS}
    serializer_class = s.ApiKeySerializer
    queryset = ApiKey.objects.all()

    def get_tenant_queryset(self):
        return api_keys.api_key_list(client=self.client)

    @extend_schema(tags=KEYS_TAG, auth=PEOPLE_ONLY, summary="Your company's API keys, active first")
    def get(self, request):
        return self.list(request)

    @extend_schema(
        tags=KEYS_TAG,
        auth=PEOPLE_ONLY,
        request=s.ApiKeyCreateSerializer,
        responses={
            201: s.ApiKeyCreatedSerializer,
            409: OpenApiResponse(description="CONFLICT: the company has its maximum of active keys"),
        },
        summary="Create an API key (the key is in this answer only)",
        description=(
            "Scopes: `read` (calls, recordings' details, customers, products, stats), `read_play` (and play or "
            "download recordings), `read_write` (and update and place calls, export them). A key acts as its "
            "creator within its scope: it never does more than the creator's role allows at the time of the request."
        ),
    )
    def post(self, request):
        data = _valid(s.ApiKeyCreateSerializer, request)
        key, raw = api_keys.api_key_create(
            client=self.client,
            actor=request.user,
            name=data["name"],
            scope=data["scope"],
            expires_at=data["expires_at"],
        )
        key.key = raw
        return _no_store(Response(s.ApiKeyCreatedSerializer(key).data, status=status.HTTP_201_CREATED))


class ApiKeyDetailView(TenantAPIView):
    capabilities = {"GET": Capability.MANAGE_DEVELOPERS, "DELETE": Capability.MANAGE_DEVELOPERS}
    serializer_class = s.ApiKeySerializer
    queryset = ApiKey.objects.select_related("created_by")

    @extend_schema(tags=KEYS_TAG, auth=PEOPLE_ONLY, summary="One API key")
    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        tags=KEYS_TAG,
        auth=PEOPLE_ONLY,
        responses={200: s.ApiKeySerializer},
        summary="Revoke an API key (its next request is refused)",
    )
    def delete(self, request, public_id):
        key = api_keys.api_key_revoke(client=self.client, actor=request.user, api_key=self.get_object())
        return Response(self.get_serializer(key).data)


class ApiKeyRevokeView(TenantAPIView):
    capabilities = {"POST": Capability.MANAGE_DEVELOPERS}
    serializer_class = s.ApiKeySerializer
    queryset = ApiKey.objects.select_related("created_by")

    @extend_schema(
        tags=KEYS_TAG,
        auth=PEOPLE_ONLY,
        request=None,
        summary="Revoke an API key (the same as DELETE on the key)",
    )
    def post(self, request, public_id):
        key = api_keys.api_key_revoke(client=self.client, actor=request.user, api_key=self.get_object())
        return Response(self.get_serializer(key).data)
