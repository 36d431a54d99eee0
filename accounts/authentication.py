"""API authentication: simplejwt's access-token check, plus what simplejwt does not check.

An access token stops working at once when its sign-in (family) is revoked (logout, reuse),
when the user's token version moves (password changed, deactivated), or when the user or
their client is deactivated — one indexed query, the same one that loads the user.
"""

import uuid

from django.db.models import Exists, OuterRef
from django.utils import timezone
from rest_framework_simplejwt.authentication import JWTAuthentication as SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.models import RefreshFamily, User


class JWTAuthentication(SimpleJWTAuthentication):
    def get_user(self, validated_token):
        try:
            user_id = int(validated_token["user_id"])
            family_id = uuid.UUID(str(validated_token["fid"]))
            version = int(validated_token["ver"])
        except (KeyError, TypeError, ValueError):
            raise AuthenticationFailed("The token is not valid.", code="token_not_valid") from None
        live_family = RefreshFamily.objects.filter(
            pk=family_id, user=OuterRef("pk"), revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        user = (
            User.objects.select_related("client")
            .filter(pk=user_id, is_active=True, token_version=version, client__is_active=True)
            .filter(Exists(live_family))
            .first()
        )
        if user is None:
            raise AuthenticationFailed("The token is no longer valid; sign in again.", code="token_not_valid")
        return user
