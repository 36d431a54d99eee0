"""The pages' URLs of outbound webhooks, mounted under /developers/webhooks/ by integrations/urls.py."""

from django.urls import path

from integrations.outbound import pages

urlpatterns = [
    path("", pages.index, name="webhooks"),
    path("endpoints/", pages.endpoint_create, name="webhook-create"),
    path("<uuid:public_id>/secret/", pages.endpoint_secret, name="webhook-secret"),
    path("<uuid:public_id>/rotate/", pages.endpoint_rotate, name="webhook-rotate"),
    path("<uuid:public_id>/enable/", pages.endpoint_enable, name="webhook-enable"),
    path("<uuid:public_id>/disable/", pages.endpoint_disable, name="webhook-disable"),
    path("<uuid:public_id>/delete/", pages.endpoint_delete, name="webhook-delete"),
    path("<uuid:public_id>/test/", pages.endpoint_test, name="webhook-test"),
    path("deliveries/<uuid:public_id>/redeliver/", pages.delivery_redeliver, name="webhook-redeliver"),
]
