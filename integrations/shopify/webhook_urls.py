from django.urls import path

from integrations.shopify import views

urlpatterns = [
    path("<uuid:public_id>", views.ShopifyWebhookView.as_view(), name="shopify-webhook"),
]
