from django.urls import path

from accounts.api import views

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="auth-register"),
    path("auth/verify", views.VerifyEmailView.as_view(), name="auth-verify"),
    path("auth/verify/resend", views.VerifyEmailResendView.as_view(), name="auth-verify-resend"),
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/password/change", views.PasswordChangeView.as_view(), name="auth-password-change"),
    path("auth/password/reset", views.PasswordResetRequestView.as_view(), name="auth-password-reset"),
    path("auth/password/reset/confirm", views.PasswordResetConfirmView.as_view(), name="auth-password-reset-confirm"),
    path("auth/invitations/accept", views.InvitationAcceptView.as_view(), name="auth-invitation-accept"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/phones", views.MyPhoneListView.as_view(), name="me-phones"),
    path("me/phones/<uuid:public_id>", views.MyPhoneDetailView.as_view(), name="me-phone"),
    path("client", views.ClientView.as_view(), name="client"),
    path("client/recording-retention", views.RecordingRetentionView.as_view(), name="client-recording-retention"),
    path("team/members", views.MemberListView.as_view(), name="team-members"),
    path("team/members/<uuid:public_id>", views.MemberDetailView.as_view(), name="team-member"),
    path(
        "team/members/<uuid:public_id>/deactivate", views.MemberDeactivateView.as_view(), name="team-member-deactivate"
    ),
    path("team/members/<uuid:public_id>/activate", views.MemberActivateView.as_view(), name="team-member-activate"),
    path("team/phones", views.TeamPhoneListView.as_view(), name="team-phones"),
    path("team/phones/<uuid:public_id>", views.TeamPhoneDetailView.as_view(), name="team-phone"),
    path("team/invitations", views.InvitationListView.as_view(), name="team-invitations"),
    path(
        "team/invitations/<uuid:public_id>/revoke", views.InvitationRevokeView.as_view(), name="team-invitation-revoke"
    ),
    path("audit-events", views.AuditEventListView.as_view(), name="audit-events"),
    path("api-keys", views.ApiKeyListView.as_view(), name="api-keys"),
    path("api-keys/<uuid:public_id>", views.ApiKeyDetailView.as_view(), name="api-key"),
    path("api-keys/<uuid:public_id>/revoke", views.ApiKeyRevokeView.as_view(), name="api-key-revoke"),
]
