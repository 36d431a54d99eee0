from django.urls import path

from integrations.shopify import api

urlpatterns = [
    path("products", api.ProductListView.as_view(), name="products"),
    path("products/<uuid:public_id>", api.ProductDetailView.as_view(), name="product"),
    path("customers", api.CustomerListView.as_view(), name="customers"),
    path("customers/<uuid:public_id>", api.CustomerDetailView.as_view(), name="customer"),
    path("lookup", api.LookupView.as_view(), name="lookup"),
]
