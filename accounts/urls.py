from django.urls import path

from accounts import views

app_name = "accounts"

# The e-mailed links (verify/, password/reset/, invitations/) are built by accounts.services.
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("signup/done/", views.signup_done, name="signup-done"),
    path("verify/resend/", views.verify_resend, name="verify-resend"),
    path("verify/<str:token>/", views.verify, name="verify"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("password/reset/", views.password_reset, name="password-reset"),
    path("password/reset/<str:token>/", views.password_reset_confirm, name="password-reset-confirm"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
    path("profile/", views.profile, name="profile"),
    path("team/", views.team, name="team"),
    path("team/members/<uuid:public_id>/role/", views.member_role, name="member-role"),
    path("team/members/<uuid:public_id>/deactivate/", views.member_deactivate, name="member-deactivate"),
    path("team/members/<uuid:public_id>/activate/", views.member_activate, name="member-activate"),
    path("team/invitations/<uuid:public_id>/revoke/", views.invitation_revoke, name="invitation-revoke"),
]
