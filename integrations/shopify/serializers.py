"""Products as the API shows them. Shopify ids are strings: they can exceed JavaScript's safe integers."""

from __future__ import annotations

from rest_framework import serializers

from integrations.models import Product, ProductStatus, ProductVariant


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
        fields = ["shopify_id", "sku", "title", "price", "compare_at_price", "inventory_quantity", "barcode"]
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    shopify_id = serializers.CharField(read_only=True)
    variants = ProductVariantSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "shopify_id",
            "title",
            "handle",
            "status",
            "vendor",
            "product_type",
            "tags",
            "images_count",
            "shopify_updated_at",
            "synced_at",
            "variants",
        ]
        read_only_fields = fields


class ProductDetailSerializer(ProductSerializer):
    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields[:-1], "description", "created_at", "updated_at", "variants"]
        read_only_fields = fields
