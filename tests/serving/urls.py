"""caly.urls plus `slow/`, a view that sleeps without touching the database."""

import os
import time
from pathlib import Path

from django.http import HttpResponse
from django.urls import include, path

from caly.urls import handler400, handler403, handler404, handler500  # noqa: F401

# The serving test points this at a folder to see which requests are in flight.
INFLIGHT_DIR = os.environ.get("CALY_TEST_INFLIGHT_DIR", "")


def slow(request):
    seconds = min(float(request.GET.get("seconds", "2")), 10.0)
    if INFLIGHT_DIR:
        name = "".join(c for c in request.GET.get("id", "request") if c.isalnum())
        (Path(INFLIGHT_DIR) / f"started-{name}").touch()
    time.sleep(seconds)
    return HttpResponse("done", content_type="text/plain")


urlpatterns = [
    path("slow/", slow, name="slow"),
    path("", include("caly.urls")),
]
