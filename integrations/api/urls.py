from django.urls import include, path

from integrations.api import views

urlpatterns = [
    path("integrations", views.IntegrationsView.as_view(), name="integrations"),
    path("integrations/exotel", views.ExotelConnectionView.as_view(), name="integration-exotel"),
    path("integrations/exotel/test", views.ExotelCheckView.as_view(), name="integration-exotel-test"),
    path(
        "integrations/exotel/rotate-webhook-token",
        views.ExotelTokenRotateView.as_view(),
        name="integration-exotel-rotate-token",
    ),
    path("integrations/shopify", views.ShopifyConnectionView.as_view(), name="integration-shopify"),
    path("integrations/shopify/test", views.ShopifyCheckView.as_view(), name="integration-shopify-test"),
    path("integrations/shopify/sync", views.ShopifySyncView.as_view(), name="integration-shopify-sync"),
    path("webhooks/exotel/", include("integrations.exotel.webhook_urls")),
    path("webhooks/shopify/", include("integrations.shopify.webhook_urls")),
    path("", include("integrations.shopify.api_urls")),
]
