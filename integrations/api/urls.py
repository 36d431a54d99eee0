from django.urls import include, path

from integrations.api import views
from integrations.providers import PROVIDERS


def _connection_urls(key: str) -> list:
    connection, check = views.connection_views(PROVIDERS[key])
    return [
        path(f"integrations/{key}", connection.as_view(), name=f"integration-{key}"),
        path(f"integrations/{key}/test", check.as_view(), name=f"integration-{key}-test"),
    ]


urlpatterns = [
    path("integrations", views.IntegrationsView.as_view(), name="integrations"),
    *[url for key in PROVIDERS for url in _connection_urls(key)],
    path(
        "integrations/exotel/rotate-webhook-token",
        views.ExotelTokenRotateView.as_view(),
        name="integration-exotel-rotate-token",
    ),
    path("integrations/shopify/sync", views.ShopifySyncView.as_view(), name="integration-shopify-sync"),
    path("webhooks/exotel/", include("integrations.exotel.webhook_urls")),
    path("webhooks/shopify/", include("integrations.shopify.webhook_urls")),
    path("", include("integrations.shopify.api_urls")),
    path("", include("integrations.outbound.api_urls")),
]
