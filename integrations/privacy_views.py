"""The customer data requests Shopify sent (customers/data_request), for the client's owners only.

Each answer is a private JSON file of what Caly holds about one customer, for the owner to hand to the
store. The page and the download are the owner's: anyone else gets the 403 page (the list) or a 404
(a file), and a file of another client is a 404 for everyone.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_safe

from accounts.roles import Capability, Role
from accounts.views import client_user_required
from integrations.models import ShopifyDataRequest
from integrations.shopify.privacy import data_request_download_record

PER_PAGE = 100


@require_safe
@client_user_required(Capability.MANAGE_INTEGRATIONS)
def data_requests(request: HttpRequest) -> HttpResponse:
    if request.user.role != Role.OWNER:
        raise PermissionDenied
    requests = ShopifyDataRequest.objects.for_client(request.user.client).order_by("-received_at", "-id")[:PER_PAGE]
    return render(request, "integrations/privacy/data_requests.html", {"data_requests": requests})


@require_safe
@client_user_required(Capability.READ)
def data_request_download(request: HttpRequest, public_id) -> HttpResponseBase:
    data_request = (
        ShopifyDataRequest.objects.for_client(request.user.client).filter(public_id=public_id).first()
        if request.user.role == Role.OWNER
        else None
    )
    if data_request is None:
        raise Http404("No such data request.")
    try:
        handle = default_storage.open(data_request.storage_key, "rb")
    except FileNotFoundError:
        raise Http404("The file is gone.") from None
    data_request_download_record(data_request=data_request, actor=request.user)
    filename = f"shopify-data-request-{data_request.shopify_request_id or data_request.public_id}.json"
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type="application/json")
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns = [
    path("", data_requests, name="data-requests"),
    path("<uuid:public_id>/download/", data_request_download, name="data-request-download"),
]
