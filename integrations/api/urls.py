from django.urls import include, path

urlpatterns = [
    path("webhooks/exotel/", include("integrations.exotel.webhook_urls")),
    path("webhooks/shopify/", include("integrations.shopify.webhook_urls")),
    path("", include("integrations.shopify.api_urls")),
]
