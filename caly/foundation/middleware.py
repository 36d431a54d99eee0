"""Request id, access log with slow-request warnings, the security headers Django lacks, and the admin's time zone."""

from __future__ import annotations

import logging
import time

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.utils import timezone

from caly.foundation import context, metrics
from caly.foundation.adapters.django import loaded_or_none
from caly.foundation.http import client_ip

access_log = logging.getLogger("caly.access")


class RequestIdMiddleware:
    """Accepts a well-formed inbound X-Request-ID or makes one, and echoes it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = context.clean_request_id(request.headers.get(context.REQUEST_ID_HEADER))
        request.request_id = request_id
        token = context.activate(
            context.RequestContext(
                request_id=request_id,
                method=request.method,
                path=context.loggable_path(request.path),
                extra={"ip": client_ip(request), "user_agent": request.headers.get("User-Agent", "")[:300]},
            )
        )
        try:
            response = self.get_response(request)
        finally:
            context.deactivate(token)
        response[context.REQUEST_ID_HEADER] = request_id
        return response


def authenticated_user(request):
    """The user if authentication already ran for this request; never triggers a lookup."""
    user = loaded_or_none(request.__dict__.get("user"))
    return user if getattr(user, "is_authenticated", False) else None


class AccessLogMiddleware:
    """One line per request; requests slower than SLOW_REQUEST_MS are warnings. Also the request metrics,
    from the same clock reading."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.slow_ms = settings.SLOW_REQUEST_MS

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        metrics.observe_request(request, response.status_code, duration)
        duration_ms = round(duration * 1000, 2)
        user = authenticated_user(request)
        current = context.current()
        if current is not None and user is not None:
            current.user_id = user.pk
            current.client_id = getattr(user, "client_id", None)
        route = getattr(getattr(request, "resolver_match", None), "route", None)
        slow = duration_ms >= self.slow_ms
        access_log.log(
            logging.WARNING if slow else logging.INFO,
            "%s %s %s %.1fms%s",
            request.method,
            context.loggable_path(request.path),
            response.status_code,
            duration_ms,
            " slow" if slow else "",
            extra={
                "status": response.status_code,
                "duration_ms": duration_ms,
                "route": route,
                "user_id": user.pk if user else None,
                "client_id": getattr(user, "client_id", None) if user else None,
                "slow": slow or None,
            },
        )
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp with the strictest policy (`default-src 'none'`) on JSON API answers."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if not report_only and is_json and parts.config is None and parts.replace is None:
            return PolicyParts(settings.API_CONTENT_SECURITY_POLICY, None, None, None)
        return parts


class PermissionsPolicyMiddleware:
    """Denies powerful browser features (camera, microphone, geolocation, payment…)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = settings.PERMISSIONS_POLICY

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.policy)
        return response


class StaffTimeZoneMiddleware:
    """The admin shows and reads times in STAFF_TIME_ZONE instead of UTC (a client's pages use its own zone)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = "/admin/"

    def __call__(self, request):
        if not request.path_info.startswith(self.admin_prefix):
            return self.get_response(request)
        with timezone.override(settings.STAFF_TIME_ZONE):
            return self.get_response(request)
