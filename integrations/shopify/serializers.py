"""Products, customers and the number lookup as the API shows them. Shopify ids are strings: they can exceed
JavaScript's safe integers. A customer and an order have the shape they have on a call (recordings' serializers)."""

from __future__ import annotations

from rest_framework import serializers

from integrations.models import Product, ProductStatus, ProductVariant
from integrations.shopify import selectors
from recordings.api.serializers import CUSTOMER_MATCHES, CustomerSerializer, OrderSerializer


class ProductFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Words in the title, or the start of a variant's SKU.",
    )
    status = serializers.ChoiceField(choices=ProductStatus.choices, required=False, allow_blank=True)


class ProductVariantSerializer(serializers.ModelSerializer):
    shopify_id = serializers.CharField(read_only=True)

    class Meta:
        model = ProductVariant
        fields = [name for name in selectors.VARIANT_LIST_FIELDS if name != "product_id"]
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    shopify_id = serializers.CharField(read_only=True)
    variants = ProductVariantSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        # The list endpoint builds the same shape from `.values(*PRODUCT_LIST_FIELDS)` rows (shopify/api.py).
        fields = [
            "id",
            *(name for name in selectors.PRODUCT_LIST_FIELDS if name not in ("id", "public_id")),
            "variants",
        ]
        read_only_fields = fields


class ProductDetailSerializer(ProductSerializer):
    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields[:-1], "description", "created_at", "updated_at", "variants"]
        read_only_fields = fields


# --- customers ------------------------------------------------------------------------------------


class CustomerFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        max_length=100,
        help_text="A name (every word must appear), the start of an e-mail, an order's name (#1042), or a phone "
        "number, read in the company's country and matched exactly against every number Caly holds for customers.",
    )


class CustomerCallSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    direction = serializers.CharField()
    from_number = serializers.CharField()
    to_number = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    duration_seconds = serializers.IntegerField()


class CustomerDetailSerializer(CustomerSerializer):
    shopify_created_at = serializers.DateTimeField(allow_null=True)
    orders = OrderSerializer(many=True, help_text="The latest orders, newest first.")
    calls = CustomerCallSerializer(many=True, help_text="The latest calls linked to the customer, newest first.")


class LookupQuerySerializer(serializers.Serializer):
    phone = serializers.CharField(
        max_length=64, help_text="The number, E.164 or as dialled in the company's country (098765 43210)."
    )


class LookupSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="The number as Caly read it, E.164.")
    customer_match = serializers.ChoiceField(choices=CUSTOMER_MATCHES)
    customer = CustomerSerializer(allow_null=True, help_text="The one customer with this number, if one.")
    candidates = CustomerSerializer(many=True, help_text="The customers sharing the number, if several.")
    open_orders = OrderSerializer(many=True, help_text="Their orders not yet cancelled, closed and fulfilled.")
    calls = CustomerCallSerializer(many=True, help_text="The latest calls with the number.")
