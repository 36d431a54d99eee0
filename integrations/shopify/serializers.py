"""Products as the API shows them. Shopify ids are strings: they can exceed JavaScript's safe integers."""

from __future__ import annotations

from rest_framework import serializers

from integrations.models import Product, ProductStatus, ProductVariant
from integrations.shopify import selectors


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
