"""Error pages that keep the site's look, and the JSON envelope for the same errors under /api/.

The 500 view renders without a RequestContext: no context processors run, so it works while
the database is down. When the failure *is* the database being out of reach, it answers 503 with
the maintenance page instead: a retry will work once the database is back, and a load balancer or
webhook sender reads a 503 as "try again", not as a bug.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.csrf import csrf_exempt

from caly.foundation import context
from caly.foundation.api.errors import envelope, error_payload
from caly.foundation.errors import ErrorCode

_PAGES = {
    400: ("400.html", ErrorCode.MALFORMED_REQUEST, "Bad request."),
    403: ("403.html", ErrorCode.PERMISSION_DENIED, "You do not have permission to do this."),
    404: ("404.html", ErrorCode.NOT_FOUND, "Not found."),
    500: ("500.html", ErrorCode.INTERNAL_ERROR, "Internal server error. Quote the request id to support."),
    503: ("503.html", ErrorCode.SERVICE_UNAVAILABLE, "The service is briefly unavailable; try again shortly."),
}
DATABASE_RETRY_AFTER_SECONDS = 5


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _respond(request, status: int, *, with_request_context: bool = True, reason: str = "") -> HttpResponse:
    template_name, code, message = _PAGES[status]
    if _is_api(request):
        return JsonResponse(envelope(error=error_payload(code, message)), status=status)
    template = loader.get_template(template_name)
    page_context = {"request_id": context.current_request_id(), "reason": reason, "path": request.path}
    html = template.render(page_context, request if with_request_context else None)
    return HttpResponse(html, status=status)


def bad_request(request, exception=None):
    return _respond(request, 400)


def permission_denied(request, exception=None):
    return _respond(request, 403)


def page_not_found(request, exception=None):
    return _respond(request, 404)


@csrf_exempt  # an unknown address answers 404 whatever the method; there is nothing to forge
def api_not_found(request, *args, **kwargs):
    """The API's 404 for a path no route matches (an unknown resource, a malformed id), DEBUG or not."""
    return _respond(request, 404)


def server_error(request):
    # Django calls this while handling the exception, so sys.exc_info() is the error that got here.
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        response = _respond(request, 503, with_request_context=False)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    return _respond(request, 500, with_request_context=False)


def csrf_failure(request, reason=""):
    if _is_api(request):
        return JsonResponse(
            envelope(error=error_payload(ErrorCode.PERMISSION_DENIED, "CSRF verification failed.")), status=403
        )
    html = loader.get_template("403_csrf.html").render({"request_id": context.current_request_id()}, request)
    return HttpResponse(html, status=403)
