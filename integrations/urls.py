from django.urls import include, path

from integrations import privacy_views, views
from integrations.outbound import urls as outbound_urls
from integrations.providers import PROVIDERS
from integrations.shopify import pages as customer_pages

app_name = "integrations"


def _connection_urls(key: str) -> list:
    provider = {"provider": key}
    return [
        path(f"integrations/{key}/", views.connection_save, provider, name=f"{key}-save"),
        path(f"integrations/{key}/test/", views.connection_test, provider, name=f"{key}-test"),
        path(f"integrations/{key}/disconnect/", views.connection_disconnect, provider, name=f"{key}-disconnect"),
    ]


urlpatterns = [
    path("integrations/", views.index, name="index"),
    *[url for key in PROVIDERS for url in _connection_urls(key)],
    path("integrations/exotel/rotate-token/", views.exotel_rotate, {"provider": "exotel"}, name="exotel-rotate"),
    path("integrations/shopify/sync/", views.shopify_sync, {"provider": "shopify"}, name="shopify-sync"),
    path("products/", views.products, name="products"),
    path("integrations/privacy/", include(privacy_views.urlpatterns)),
    path("customers/", customer_pages.customers, name="customers"),
    path("customers/<uuid:public_id>/", customer_pages.customer, name="customer"),
    path("developers/webhooks/", include(outbound_urls)),
]
