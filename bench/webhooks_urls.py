"""The site's URLs plus `/api/v1/bench/ok`: the least a POST can cost behind the same middleware (bench only)."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from caly.urls import handler400, handler403, handler404, handler500  # noqa: F401


@csrf_exempt
def bare_ok(request):
    return HttpResponse(b'{"ok": true}', content_type="application/json")


urlpatterns = [
    path("api/v1/bench/ok", bare_ok),  # under /api/ like the callbacks: the same middleware branches run
    path("", include("caly.urls")),
]
