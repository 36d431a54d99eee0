from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("integrations/", views.index, name="index"),
    path("integrations/exotel/", views.exotel_save, name="exotel-save"),
    path("integrations/exotel/test/", views.exotel_test, name="exotel-test"),
    path("integrations/exotel/rotate-token/", views.exotel_rotate, name="exotel-rotate"),
    path("integrations/exotel/disconnect/", views.exotel_disconnect, name="exotel-disconnect"),
    path("integrations/shopify/", views.shopify_save, name="shopify-save"),
    path("integrations/shopify/test/", views.shopify_test, name="shopify-test"),
    path("integrations/shopify/sync/", views.shopify_sync, name="shopify-sync"),
    path("integrations/shopify/disconnect/", views.shopify_disconnect, name="shopify-disconnect"),
    path("products/", views.products, name="products"),
]
