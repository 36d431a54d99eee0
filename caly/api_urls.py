from django.urls import include, path

from caly.foundation import client_errors

urlpatterns = [
    path("client-errors/", client_errors.ClientErrorView.as_view(), name="client-errors"),
    path("", include("accounts.api.urls")),
    path("", include("recordings.api.urls")),
    path("", include("integrations.api.urls")),
]
