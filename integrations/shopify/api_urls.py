from django.urls import path

from integrations.shopify import api

urlpatterns = [
    path("products", api.ProductListView.as_view(), name="products"),
    path("products/<uuid:public_id>", api.ProductDetailView.as_view(), name="product"),
]
