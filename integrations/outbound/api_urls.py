from django.urls import path

from integrations.outbound import api

urlpatterns = [
    path("webhook-endpoints", api.EndpointListView.as_view(), name="webhook-endpoints"),
    path("webhook-endpoints/<uuid:public_id>", api.EndpointDetailView.as_view(), name="webhook-endpoint"),
    path("webhook-endpoints/<uuid:public_id>/secret", api.EndpointSecretView.as_view(), name="webhook-endpoint-secret"),
    path(
        "webhook-endpoints/<uuid:public_id>/rotate-secret",
        api.EndpointRotateView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path("webhook-endpoints/<uuid:public_id>/test", api.EndpointTestView.as_view(), name="webhook-endpoint-test"),
    path(
        "webhook-endpoints/<uuid:public_id>/deliveries",
        api.DeliveryListView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path(
        "webhook-deliveries/<uuid:public_id>/redeliver",
        api.DeliveryRedeliverView.as_view(),
        name="webhook-delivery-redeliver",
    ),
]
