"""The Developers page: a company's API keys (made, shown once, listed, revoked), its webhook endpoints and
recent deliveries (integrations.outbound.pages), and the quick start.

Admins and owners only (Capability.MANAGE_DEVELOPERS). A new key is shown on the page the creation
redirects to, then never again: it waits in the session for that one request, which pops it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import api_keys
from accounts.forms import ApiKeyForm
from accounts.models import ApiKey
from accounts.roles import Capability
from accounts.views import client_user_required
from caly import developers
from caly.foundation.errors import DomainError
from integrations.outbound import pages as outbound_pages

NEW_KEY_SESSION_KEY = "developers.new_api_key"


@client_user_required(Capability.MANAGE_DEVELOPERS)
@require_http_methods(["GET", "HEAD", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ApiKeyForm(request.POST or None, user=user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                key, raw = api_keys.api_key_create(
                    client=user.client,
                    actor=user,
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    expires_at=form.expires_at(),
                )
            except DomainError as error:
                form.add_service_error(error)
            else:
                request.session[NEW_KEY_SESSION_KEY] = {"id": str(key.public_id), "key": raw}
                return redirect("developers:index")
        status = 400
    new_key = request.session.pop(NEW_KEY_SESSION_KEY, None) if request.method == "GET" else None
    context = {
        "form": form,
        "keys": api_keys.api_key_list(client=user.client),
        "new_key": new_key,
        "curl_example": developers.curl_example(),
        "verify_webhook_python": developers.VERIFY_WEBHOOK_PYTHON,
        "site_url": settings.SITE_URL,
        **outbound_pages.developer_section(request),
    }
    response = render(request, "developers/index.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may hold a new key
    return response


@client_user_required(Capability.MANAGE_DEVELOPERS)
@require_POST
def key_revoke(request: HttpRequest, public_id) -> HttpResponse:
    key = get_object_or_404(ApiKey.objects.for_client(request.user.client), public_id=public_id)
    api_keys.api_key_revoke(client=request.user.client, actor=request.user, api_key=key)
    messages.success(request, f"The key “{key.name}” is revoked: requests with it are refused from now on.")
    return redirect("developers:index")
