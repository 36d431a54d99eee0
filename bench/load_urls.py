"""The site's URLs plus the two floors bench/load.py measures beside it (bench only; the site never serves them).

- `/api/v1/bench/ok`: the least any request costs behind the same middleware.
- `/api/v1/bench/floor/calls`: the calls list's first page with none of DRF: the same JWT check, the
  same 50 rows as `.values()` in a JsonResponse. The least the real list could cost.
"""

from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.authentication import JWTAuthentication
from caly.urls import handler400, handler403, handler404, handler500  # noqa: F401
from recordings import selectors
from recordings.models import Call

PAGE = 50


@csrf_exempt
def bare_ok(request):
    return HttpResponse(b'{"ok": true}', content_type="application/json")


def floor_calls(request):
    try:
        found = JWTAuthentication().authenticate(Request(request))
    except AuthenticationFailed:
        found = None
    if found is None:
        return JsonResponse({"error": "sign in"}, status=401)
    user, _ = found
    calls = Call.objects.for_client(user.client).order_by("-started_at", "-id")
    return JsonResponse({"data": list(calls.values(*selectors.CALL_LIST_FIELDS)[:PAGE])})


urlpatterns = [
    path("api/v1/bench/ok", bare_ok),  # under /api/ like the real endpoints: the same middleware branches run
    path("api/v1/bench/floor/calls", floor_calls),
    path("", include("caly.urls")),
]
