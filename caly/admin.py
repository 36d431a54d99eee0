"""The admin's pages that need several apps: onboarding a client (with demo calls and products) from the
client list. The client admin itself is accounts'; this adds the page to it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin import ClientAdmin as AccountsClientAdmin
from accounts.forms import OnboardClientForm
from accounts.models import Client
from caly import onboarding
from caly.foundation.errors import DomainError


class ClientAdmin(AccountsClientAdmin):
    def get_urls(self):
        onboard = path("onboard/", self.admin_site.admin_view(self.onboard_view), name="accounts_client_onboard")
        return [onboard, *super().get_urls()]

    def onboard_view(self, request):
        """A new client and its owner's invitation, as `manage.py onboard_client` makes them (linked from the list)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = OnboardClientForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = onboarding.client_onboard(
                    name=form.cleaned_data["name"],
                    owner_email=form.cleaned_data["owner_email"],
                    timezone_name=form.cleaned_data["timezone"],
                    demo_data=form.cleaned_data["demo_data"],
                    actor=request.user,
                    channel="admin",
                )
            except DomainError as error:
                form.add_service_error(error, field="owner_email")
            else:
                level = messages.SUCCESS if result.created else messages.WARNING
                self.message_user(request, " ".join(onboarding.onboarding_summary(result)), level)
                return redirect(reverse("admin:accounts_client_change", args=[result.client.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Onboard a client",
            "opts": self.opts,
            "form": form,
            "adminform": helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "admin/accounts/client/onboard.html", context, status=status)


admin.site.unregister(Client)
admin.site.register(Client, ClientAdmin)
