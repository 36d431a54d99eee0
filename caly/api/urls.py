from django.urls import path

from caly import client_errors

urlpatterns = [
    path("client-errors/", client_errors.ClientErrorView.as_view(), name="client-errors"),
]
