"""The client's Shopify data, any role may read: /api/v1/products (the catalogue), /api/v1/customers (search,
with their orders and calls) and /api/v1/lookup?phone=… (the screen-pop for one number)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.roles import Capability
from caly.foundation.api.pagination import KeysetPagination, PageNumberPagination
from integrations.models import Product, ShopifyCustomer
from integrations.shopify import selectors
from integrations.shopify import serializers as s
from integrations.shopify.phones import e164
from integrations.shopify.search import CUSTOMER_ORDERING, customer_search

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
        rows = self.get_queryset().prefetch_related(None).values(*selectors.PRODUCT_LIST_FIELDS)
        page = self.paginate_queryset(rows)
        variants = selectors.variant_rows(client=self.client, product_ids=[row["id"] for row in page])
        return self.get_paginated_response([product_row(row, variants[row["id"]]) for row in page])


def _money(value):
    return None if value is None else str(value)


def variant_row(values: dict) -> dict:
    """A variant as ProductVariantSerializer shows it, from a `.values(*VARIANT_LIST_FIELDS)` row."""
    return {
        "shopify_id": str(values["shopify_id"]),
        "sku": values["sku"],
        "title": values["title"],
        "price": _money(values["price"]),
        "compare_at_price": _money(values["compare_at_price"]),
        "inventory_quantity": values["inventory_quantity"],
        "barcode": values["barcode"],
    }


def product_row(values: dict, variants: list[dict]) -> dict:
    """A product as ProductSerializer shows it, from `.values()` rows: the serializer's nested fields cost
    about as much CPU as the rest of the request, and a search page is mostly variants."""
    row = {key: values[key] for key in selectors.PRODUCT_LIST_FIELDS if key not in ("id", "public_id")}
    row["shopify_id"] = str(row["shopify_id"])
    return {"id": values["public_id"], **row, "variants": [variant_row(variant) for variant in variants]}


class ProductDetailView(TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.ProductDetailSerializer
    queryset = Product.objects.all()

    def get_tenant_queryset(self):
        return selectors.product_list(client=self.client)

    @extend_schema(tags=TAGS, summary="A product with its description and variants")
    def get(self, request, public_id):
        return Response(self.get_serializer(self.get_object()).data)


CUSTOMER_TAGS = ["customers"]


class CustomerListView(ListModelMixin, TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.CustomerSerializer
    pagination_class = KeysetPagination
    keyset_ordering = CUSTOMER_ORDERING
    queryset = ShopifyCustomer.objects.all()

    def get_tenant_queryset(self):
        filters = s.CustomerFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        return customer_search(client=self.client, q=filters.validated_data.get("q", ""))

    @extend_schema(
        tags=CUSTOMER_TAGS, parameters=[s.CustomerFilterSerializer], summary="Shopify customers, newest first"
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset().values(*selectors.CUSTOMER_FIELDS))
        return self.get_paginated_response([selectors.customer_row(row) for row in page])


class CustomerDetailView(TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.CustomerDetailSerializer
    queryset = ShopifyCustomer.objects.all()

    @extend_schema(tags=CUSTOMER_TAGS, summary="A customer with their latest orders and calls")
    def get(self, request, public_id):
        return Response(selectors.customer_detail(client=self.client, customer=self.get_object()))


class LookupView(TenantAPIView):
    capabilities = {"GET": Capability.READ}
    serializer_class = s.LookupSerializer
    queryset = ShopifyCustomer.objects.all()

    @extend_schema(
        tags=CUSTOMER_TAGS,
        parameters=[s.LookupQuerySerializer],
        summary="Screen-pop: who has this number, their open orders and the last calls with it",
    )
    def get(self, request):
        query = s.LookupQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        phone = e164(query.validated_data["phone"], region=self.client.country)
        if phone is None:
            raise ValidationError({"phone": ["Not a valid phone number."]})
        return Response(selectors.customer_lookup(client=self.client, phone=phone))
