"""GET /api/v1/products and /api/v1/products/<id>: the client's Shopify catalogue (any role may read)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from accounts.roles import Capability
from caly.api.pagination import PageNumberPagination
from caly.api.views import TenantAPIView
from integrations.models import Product
from integrations.shopify import selectors
from integrations.shopify import serializers as s

TAGS = ["products"]


class ProductListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.ProductSerializer
    pagination_class = PageNumberPagination
    queryset = Product.objects.all()

    def get_tenant_queryset(self):
        filters = s.ProductFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.product_list(client=self.client, **filters.validated_data)

    @extend_schema(tags=TAGS, parameters=[s.ProductFilterSerializer], summary="Products, by title, with variants")
    def get(self, request):
        return self.list(request)


class ProductDetailView(TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.ProductDetailSerializer
    queryset = Product.objects.all()

    def get_tenant_queryset(self):
        return selectors.product_list(client=self.client)

    @extend_schema(tags=TAGS, summary="A product with its description and variants")
    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)
