"""The role matrix, read from the URLconf: every tenant route × its declared methods × every role.

Routes are enumerated from `django.urls.get_resolver()`, so a new API view is checked the moment
it is routed: it is either a TenantAPIView (and then in the matrix below) or on the short list of
public views; anything else under /api/ fails `test_every_api_route_is_tenant_scoped_or_listed_public`.
"""

import json
import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny, IsAuthenticated

from accounts import jwt, services
from accounts.api.base import ApiUserRateThrottle, PublicAPIView, RolePermission, TenantAPIView
from accounts.models import AuditEvent, Invitation, User
from accounts.roles import ROLE_CAPABILITIES, Capability, Role, can
from caly.foundation.client_errors import ClientErrorView
from tests.factories import PASSWORD, UserFactory

# Views under /api/ that are deliberately open: sign-up/sign-in (PublicAPIView subclasses, found by
# class), the browser error reporter and the OpenAPI schema and its two viewers.
PUBLIC_VIEWS = (ClientErrorView, SpectacularAPIView, SpectacularSwaggerSplitView, SpectacularRedocView)
ROLES = [Role.OWNER, Role.ADMIN, Role.AGENT, Role.VIEWER]
_KWARG = re.compile(r"<(?:\w+:)?(\w+)>")


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry


def _view_class(pattern: URLPattern):
    callback = pattern.callback
    return getattr(callback, "view_class", None) or getattr(callback, "cls", None)


def api_routes() -> list[tuple[str, str | None, type | None]]:
    """(route, name, view class) of every route under /api/, from the live URLconf."""
    return [
        (route, pattern.name, _view_class(pattern))
        for route, pattern in _walk(get_resolver().url_patterns)
        if route.startswith("api/")
    ]


def tenant_routes() -> list[tuple[str, str, type]]:
    return [
        (route, name, cls)
        for route, name, cls in api_routes()
        if isinstance(cls, type) and issubclass(cls, TenantAPIView)
    ]


TENANT_CALLS = [
    (route, name, cls, method) for route, name, cls in tenant_routes() for method in sorted(cls.capabilities)
]

# A valid, harmless body per (route name, method) and the status an allowed role gets. A route
# not listed here is still in the matrix, called with an empty body: an allowed role may then get
# a 400 or 404, which still shows it passed the role check.
CALLS: dict[tuple[str, str], tuple[dict | None, int]] = {
    ("auth-password-change", "POST"): ({"current_password": PASSWORD, "new_password": "a-new-pass-phrase-77"}, 200),
    ("me", "GET"): (None, 200),
    ("me", "PATCH"): ({"first_name": "Renamed"}, 200),
    ("client", "GET"): (None, 200),
    ("client", "PATCH"): ({"timezone": "Asia/Dubai"}, 200),
    ("team-members", "GET"): (None, 200),
    ("team-member", "GET"): (None, 200),
    ("team-member", "PATCH"): ({"role": Role.AGENT.value}, 200),
    ("team-member-deactivate", "POST"): (None, 200),
    ("team-member-activate", "POST"): (None, 200),
    ("team-invitations", "GET"): (None, 200),
    ("team-invitations", "POST"): ({"email": "newcomer@acme.example", "role": Role.VIEWER.value}, 201),
    ("team-invitation-revoke", "POST"): (None, 200),
    ("audit-events", "GET"): (None, 200),
    ("me-phones", "GET"): (None, 200),
    ("me-phones", "POST"): ({"number": "+919811100099"}, 201),
    ("team-phones", "GET"): (None, 200),
    ("calls-missed", "GET"): (None, 200),
}
# Which of client A's objects a route's <public_id> names; otherwise chosen by the view's model.
OBJECT_FOR_ROUTE = {"team-member-activate": "inactive_member"}
OBJECT_FOR_MODEL = {User: "member", Invitation: "invitation"}


def _call_id(call) -> str:
    route, _, _, method = call
    return f"{method} /{route}"


@pytest.fixture
def team(client_a):
    """Client A with one user per role, a member to act on, an inactive member and a pending invitation."""
    users = {
        role: UserFactory(email=f"{role.value}@acme.example", client=client_a, role=role)
        for role in ROLES  # alice-style fixtures are not used: every role needs its own user
    }
    member = UserFactory(email="target@acme.example", client=client_a, role=Role.VIEWER)
    inactive = UserFactory(email="former@acme.example", client=client_a, role=Role.VIEWER, is_active=False)
    invitation, _ = services.invitation_create(actor=users[Role.OWNER], email="invitee@acme.example", role=Role.AGENT)
    return {"users": users, "member": member, "inactive_member": inactive, "invitation": invitation}


def _path(route: str, name: str, cls: type, team: dict) -> str:
    key = OBJECT_FOR_ROUTE.get(name) or OBJECT_FOR_MODEL.get(getattr(cls.queryset, "model", None))
    public_id = str(team[key].public_id) if key else str(uuid.uuid4())
    return "/" + _KWARG.sub(lambda m: public_id, route)


def _request(api, method: str, path: str, payload):
    response = getattr(api, method.lower())(path, payload, format="json")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    is_json = response.get("Content-Type", "").startswith("application/json")
    return response, (json.loads(content) if content and is_json else None)


def _error_code(body) -> str | None:
    return (body or {}).get("error", {}).get("code")


# --- the URLconf ---------------------------------------------------------------------------------


def test_every_api_route_is_tenant_scoped_or_listed_public():
    escaped = []
    for route, name, cls in api_routes():
        if not isinstance(cls, type):
            escaped.append(f"/{route} ({name}): a function view")
        elif not (issubclass(cls, (TenantAPIView, PublicAPIView)) or cls in PUBLIC_VIEWS):
            escaped.append(f"/{route} ({name}): {cls.__module__}.{cls.__qualname__}")
    assert not escaped, "API routes that are neither TenantAPIView nor a listed public view:\n" + "\n".join(escaped)


def test_the_matrix_covers_the_accounts_api():
    names = {name for _, name, _ in tenant_routes()}
    assert {"me", "client", "team-members", "team-member", "team-invitation-revoke", "audit-events"} <= names
    assert len(TENANT_CALLS) >= len(CALLS)
    public = {name for _, name, cls in api_routes() if isinstance(cls, type) and issubclass(cls, PublicAPIView)}
    assert {"auth-login", "auth-register", "auth-refresh"} <= public


@pytest.mark.parametrize(("route", "name", "cls"), tenant_routes(), ids=[name for _, name, _ in tenant_routes()])
def test_every_tenant_view_keeps_the_base_checks(route, name, cls):
    """Class attributes the import-time guard does not look at must not weaken the base either."""
    assert cls.capabilities, f"/{route} declares no capabilities"
    for method, capability in cls.capabilities.items():
        assert isinstance(capability, Capability), (route, method, capability)
        assert hasattr(cls, method.lower()), f"/{route} declares {method} but has no handler"
    assert IsAuthenticated in cls.permission_classes and RolePermission in cls.permission_classes, route
    assert ApiUserRateThrottle in cls.throttle_classes, route
    assert cls.authentication_classes, route
    assert cls.get_queryset is TenantAPIView.get_queryset and cls.get_object is TenantAPIView.get_object


# --- the matrix ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("call", TENANT_CALLS, ids=_call_id)
def test_each_role_gets_exactly_what_its_capabilities_allow(api, team, call, role):
    route, name, cls, method = call
    user = team["users"][role]
    capability = cls.capabilities[method]
    payload, expected = CALLS.get((name, method), ({}, None))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
    events_before = AuditEvent.objects.count()

    response, body = _request(api, method, _path(route, name, cls, team), payload)

    if can(role, capability):
        assert response.status_code not in (401, 403) and response.status_code < 500, body
        if expected is not None:
            assert response.status_code == expected, body
            assert body["success"] is True
    else:
        assert response.status_code == 403, body
        assert _error_code(body) == "PERMISSION_DENIED"
        assert AuditEvent.objects.count() == events_before  # refused before anything happened


def test_the_matrix_has_both_outcomes_for_every_restricted_capability():
    """Guards against a vacuous matrix: some role is refused each non-READ capability a route uses."""
    used = {cls.capabilities[method] for _, _, cls, method in TENANT_CALLS}
    for capability in used - {Capability.READ}:
        assert any(capability not in caps for caps in ROLE_CAPABILITIES.values()), capability
        assert any(capability in caps for caps in ROLE_CAPABILITIES.values()), capability


@pytest.mark.django_db
@pytest.mark.parametrize("call", TENANT_CALLS, ids=_call_id)
def test_staff_with_a_session_are_refused_every_tenant_route(api, team, staff, call):
    route, name, cls, method = call
    payload, _ = CALLS.get((name, method), ({}, None))
    api.force_login(staff)
    events_before = AuditEvent.objects.count()

    response, body = _request(api, method, _path(route, name, cls, team), payload)

    assert response.status_code == 403, body
    assert _error_code(body) == "PERMISSION_DENIED"
    assert "staff" in body["error"]["message"]
    assert AuditEvent.objects.count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize("call", TENANT_CALLS, ids=_call_id)
def test_anonymous_callers_must_authenticate_on_every_tenant_route(api, team, call):
    route, name, cls, method = call
    payload, _ = CALLS.get((name, method), ({}, None))

    response, body = _request(api, method, _path(route, name, cls, team), payload)

    assert response.status_code == 401, body
    assert _error_code(body) == "AUTHENTICATION_REQUIRED"
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- the base refuses unsafe subclasses at class creation ----------------------------------------


def _handler(self, request, *args, **kwargs):
    return None


@pytest.mark.parametrize(
    "name", ["get_queryset", "get_object", "check_permissions", "check_object_permissions", "get_permissions"]
)
def test_a_tenant_view_that_bypasses_the_client_filter_or_checks_is_refused(name):
    with pytest.raises(TypeError, match=name):
        type(
            "SneakyView",
            (TenantAPIView,),
            {"capabilities": {"GET": Capability.READ}, "get": _handler, name: lambda self, *a, **k: None},
        )


def test_a_handler_without_a_declared_capability_is_refused():
    with pytest.raises(TypeError, match="DELETE"):

        class DeleteAnything(TenantAPIView):
            capabilities = {"GET": Capability.READ}

            def get(self, request):
                return None

            def delete(self, request):
                return None


def test_a_subclass_cannot_add_a_handler_to_a_declared_view_without_declaring_it():
    class Reader(TenantAPIView):
        capabilities = {"GET": Capability.READ}

        def get(self, request):
            return None

    with pytest.raises(TypeError, match="PUT"):
        type("ReaderWithPut", (Reader,), {"put": _handler})
    with pytest.raises(TypeError, match="GET"):
        type("ReaderWithoutCapabilities", (Reader,), {"capabilities": {}})


def test_a_fully_declared_tenant_view_is_accepted():
    class Declared(TenantAPIView):
        capabilities = {"GET": Capability.READ, "DELETE": Capability.MANAGE_TEAM}

        def get(self, request):
            return None

        def delete(self, request):
            return None

    assert Declared().capability_for("HEAD") == Capability.READ
    assert Declared().capability_for("DELETE") == Capability.MANAGE_TEAM
    assert Declared().capability_for("PUT") is None


@pytest.mark.parametrize(
    "attributes",
    [
        {"permission_classes": [AllowAny]},
        {"throttle_classes": []},
        {"authentication_classes": []},
        {"initial": lambda self, request, *args, **kwargs: None},
    ],
)
def test_a_tenant_view_cannot_drop_the_base_checks(attributes):
    with pytest.raises(TypeError):
        type("Loosened", (TenantAPIView,), {"capabilities": {"GET": Capability.READ}, **attributes})
