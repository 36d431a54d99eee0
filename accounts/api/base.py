"""The two bases every API view inherits: public (no credentials) and tenant-scoped.

TenantAPIView cannot be talked out of its tenant filter: subclasses describe their rows in
`get_tenant_queryset()` and the base adds `.for_client(<the caller's client>)`; overriding
`get_queryset`, `get_object` or the permission checks is refused at import time. A foreign
object is therefore a 404, never a 403 that would confirm it exists.
"""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.throttling import BaseThrottle

from accounts import api_keys
from accounts.models import ApiKey
from accounts.roles import Capability, can
from caly.foundation import metrics
from caly.foundation.ratelimit import count


class ApiUserRateThrottle(BaseThrottle):
    """RATE_LIMIT_API_USER per user, or RATE_LIMIT_API_KEY per API key for a key's requests, counted in
    the shared cache (atomic across workers)."""

    def allow_request(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return True
        if isinstance(request.auth, ApiKey):
            prefix = request.auth.prefix
            group, key, rate = "api-key", lambda group, request: prefix, settings.RATE_LIMITS["api_key"]
        else:
            group, key, rate = "api-user", "user", settings.RATE_LIMITS["api_user"]
        usage = count(request, group=group, key=key, rate=rate)
        self.time_left = usage["time_left"] if usage else 0
        if usage and usage["should_limit"]:
            metrics.record_rate_limited(group)
            return False
        return True

    def wait(self) -> float:
        return max(1, math.ceil(self.time_left))


class RolePermission(BasePermission):
    """The caller belongs to a client and their role has the capability the view needs for this method.

    With an API key, the key's scope is a ceiling on the role (accounts/api_keys.py): both must allow it.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if getattr(user, "client_id", None) is None:
            raise PermissionDenied("Only a client's users can use this endpoint; staff use the admin.")
        if not user.client.is_active:  # session users too, not only JWT ones
            raise PermissionDenied("This company's Caly account is deactivated.")
        capability = view.capability_for(request.method)
        if capability is None:
            return True
        key = request.auth if isinstance(request.auth, ApiKey) else None
        if key is not None and not api_keys.scope_allows(key.scope, capability, method=request.method):
            raise PermissionDenied(f"This API key's scope ({key.scope}) does not allow this.")
        if not can(user.role, capability):
            if key is not None:
                raise PermissionDenied("The role of this API key's creator does not allow this.")
            return False
        return True


class PublicAPIView(GenericAPIView):
    """Endpoints anyone may call (sign-up, login, password reset). Rate-limited by the views."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


_HANDLERS = ("get", "post", "put", "patch", "delete")
_GUARDED = (
    "get_queryset",
    "get_object",
    "check_permissions",
    "check_object_permissions",
    "get_permissions",
    "initial",
    "get_authenticators",
    "perform_authentication",
    "get_throttles",
    "check_throttles",
)
_REQUIRED = (("permission_classes", (IsAuthenticated, RolePermission)), ("throttle_classes", (ApiUserRateThrottle,)))


class TenantAPIView(GenericAPIView):
    """Base for every endpoint of a client's data. Declare `capabilities = {"GET": Capability.READ, …}`."""

    permission_classes = [IsAuthenticated, RolePermission]
    throttle_classes = [ApiUserRateThrottle]
    lookup_field = "public_id"
    lookup_url_kwarg = "public_id"
    capabilities: dict[str, Capability] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = [name for name in _GUARDED if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}: tenant views describe their rows in "
                "get_tenant_queryset() and never bypass the client filter."
            )
        undeclared = [m.upper() for m in _HANDLERS if hasattr(cls, m) and m.upper() not in cls.capabilities]
        if undeclared:
            raise TypeError(f"{cls.__name__} answers {', '.join(undeclared)} without declaring a capability.")
        dropped = [name for name, required in _REQUIRED if not set(required) <= set(getattr(cls, name))]
        if dropped or not cls.authentication_classes:
            raise TypeError(f"{cls.__name__} drops the base's {', '.join(dropped) or 'authentication_classes'}.")

    def capability_for(self, method: str) -> Capability | None:
        """None for methods the view has no handler for: DRF answers those 405 after this check."""
        return self.capabilities.get("GET" if method == "HEAD" else method)

    @property
    def client(self):
        return self.request.user.client

    def get_tenant_queryset(self):
        return self.queryset.all()

    def get_queryset(self):
        return self.get_tenant_queryset().for_client(self.request.user.client)
