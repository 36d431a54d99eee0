"""Products API and selector: page numbers, search by title or SKU, status filter, strict
parameters, tenant isolation, tombstones hidden, variants without N+1; and the demo catalogue."""

import json
from decimal import Decimal

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import jwt
from accounts.roles import Role
from integrations.models import Product, ProductStatus, ProductVariant
from integrations.shopify import demo, selectors
from tests.factories import ShopifyConnectionFactory, UserFactory
from tests.shopify_fake import ACCESS_TOKEN, SHOP_DOMAIN, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_user(api):
    def _as(user):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=user).access}")
        return api

    return _as


def make_product(client, shopify_id, title, *, status=ProductStatus.ACTIVE, skus=(), **fields):
    product = Product.objects.create(client=client, shopify_id=shopify_id, title=title, status=status, **fields)
    ProductVariant.objects.bulk_create(
        ProductVariant(
            client=client,
            product=product,
            shopify_id=shopify_id * 100 + n,
            sku=sku,
            title=f"Option {n}",
            price=Decimal("499.00"),
        )
        for n, sku in enumerate(skus)
    )
    return product


@pytest.fixture
def catalogue(client_a, client_b):
    return {
        "kurta": make_product(client_a, 1, "Indigo Kurta", skus=["KUR-IND-S", "KUR-IND-M"], description="Cotton."),
        "set": make_product(client_a, 2, "Kurta Set for Summer", skus=["SET-001"]),
        "shirt": make_product(client_a, 3, "Linen Shirt", skus=["SHI-LIN-40"], status=ProductStatus.DRAFT),
        "tea": make_product(client_a, 4, "Assam Tea", skus=["TEA-ASM"], status=ProductStatus.ARCHIVED),
        "bedsheet": make_product(client_a, 5, "Bedsheet", skus=["BED-KING", "KUR-BED"]),
        "gone": make_product(client_a, 6, "Deleted Kurta", skus=[], deleted_at=timezone.now()),
        "foreign": make_product(client_b, 1, "Bolt Kurta", skus=["KUR-IND-S"]),
    }


def get(api, path="/api/v1/products", **params):
    response = api.get(path, params)
    return response, response.json()


def titles(body):
    return [product["title"] for product in body["data"]]


def test_it_lists_live_products_by_title_with_page_numbers(as_user, alice, catalogue):
    response, body = get(as_user(alice), page_size=2)

    assert response.status_code == 200
    assert titles(body) == ["Assam Tea", "Bedsheet"]
    assert body["meta"]["pagination"] == {"page": 1, "page_size": 2, "total": 5, "total_pages": 3, "has_more": True}
    _, last = get(as_user(alice), page_size=2, page=3)
    assert titles(last) == ["Linen Shirt"]
    assert last["meta"]["pagination"]["has_more"] is False


def test_it_orders_equal_titles_by_id(as_user, alice, client_a):
    first = make_product(client_a, 10, "Same")
    second = make_product(client_a, 11, "Same")
    _, body = get(as_user(alice))
    assert [p["id"] for p in body["data"]] == [str(first.public_id), str(second.public_id)]


def test_it_shows_a_product_with_its_variants(as_user, alice, catalogue):
    _, body = get(as_user(alice), q="Indigo")
    kurta = body["data"][0]
    assert kurta["id"] == str(catalogue["kurta"].public_id)
    assert kurta["shopify_id"] == "1"
    assert [v["sku"] for v in kurta["variants"]] == ["KUR-IND-S", "KUR-IND-M"]
    assert kurta["variants"][0] == {
        "shopify_id": "100",
        "sku": "KUR-IND-S",
        "title": "Option 0",
        "price": "499.00",
        "compare_at_price": None,
        "inventory_quantity": None,
        "barcode": "",
    }
    assert "description" not in kurta


def test_the_list_shows_the_same_product_shape_as_its_serializer(as_user, alice, catalogue):
    from integrations.shopify.serializers import ProductSerializer

    catalogue["kurta"].variants.filter(sku="KUR-IND-M").update(
        compare_at_price=Decimal("599.50"), inventory_quantity=7, barcode="8901234567890"
    )
    Product.objects.filter(pk=catalogue["kurta"].pk).update(
        tags=["cotton", "summer"], vendor="Weaves", shopify_updated_at=timezone.now(), synced_at=timezone.now()
    )
    _, body = get(as_user(alice), q="Indigo")
    kurta = Product.objects.prefetch_related("variants").get(pk=catalogue["kurta"].pk)
    assert body["data"] == [json.loads(json.dumps(ProductSerializer(kurta).data))]
    assert body["data"][0]["variants"][1]["compare_at_price"] == "599.50"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("kurta", ["Indigo Kurta", "Kurta Set for Summer"]),
        ("KURTA SET", ["Kurta Set for Summer"]),
        ("KUR-IND-M", ["Indigo Kurta"]),
        ("kur-", ["Bedsheet", "Indigo Kurta"]),
        ("SET-001", ["Kurta Set for Summer"]),
        ("IND-S", []),
        ("100%_", []),
        ("", ["Assam Tea", "Bedsheet", "Indigo Kurta", "Kurta Set for Summer", "Linen Shirt"]),
    ],
)
def test_it_searches_titles_and_sku_prefixes(as_user, alice, catalogue, q, expected):
    _, body = get(as_user(alice), q=q)
    assert titles(body) == expected
    assert body["meta"]["pagination"]["total"] == len(expected)


def test_it_filters_by_status(as_user, alice, catalogue):
    _, drafts = get(as_user(alice), status="draft")
    _, archived_tea = get(as_user(alice), status="archived", q="tea")
    assert titles(drafts) == ["Linen Shirt"]
    assert titles(archived_tea) == ["Assam Tea"]


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "99"},
        {"page_size": "0"},
        {"page_size": "100000"},
        {"page_size": "1e3"},
        {"status": "deleted"},
        {"status": "ACTIVE"},
        {"q": "x" * 101},
        {"q": "kur\x00ta"},
    ],
)
def test_it_refuses_bad_parameters_with_400(as_user, alice, catalogue, params):
    response, body = get(as_user(alice), **params)
    assert response.status_code == 400
    assert body["success"] is False and body["error"]["code"] == "VALIDATION_ERROR"
    assert set(body["error"]["details"]) == set(params)


def test_it_shows_one_product_with_description_and_variants(as_user, alice, catalogue):
    response, body = get(as_user(alice), f"/api/v1/products/{catalogue['kurta'].public_id}")
    assert response.status_code == 200
    assert body["data"]["description"] == "Cotton."
    assert len(body["data"]["variants"]) == 2


@pytest.mark.parametrize("which", ["foreign", "gone"])
def test_other_clients_and_deleted_products_are_404(as_user, alice, catalogue, which):
    response, body = get(as_user(alice), f"/api/v1/products/{catalogue[which].public_id}")
    assert response.status_code == 404 and body["error"]["code"] == "NOT_FOUND"


def test_client_b_never_sees_client_as_products(as_user, charlie, catalogue):
    _, body = get(as_user(charlie))
    assert titles(body) == ["Bolt Kurta"]
    _, search = get(as_user(charlie), q="KUR-IND-M")
    assert titles(search) == []


def test_every_role_may_read_products(as_user, client_a, catalogue):
    viewer = UserFactory(email="viewer@acme.example", client=client_a, role=Role.VIEWER)
    response, _ = get(as_user(viewer))
    assert response.status_code == 200


def test_anonymous_callers_get_401(api, catalogue):
    response, body = get(api)
    assert response.status_code == 401 and body["error"]["code"] == "AUTHENTICATION_REQUIRED"


def test_it_reads_a_page_in_a_fixed_number_of_queries(as_user, alice, client_a, django_assert_max_num_queries):
    api = as_user(alice)
    make_product(client_a, 1, "Warm-up", skus=["W-1"])
    with CaptureQueriesContext(db) as few:
        get(api)
    for n in range(2, 60):
        make_product(client_a, n, f"Product {n:03d}", skus=[f"P{n}-A", f"P{n}-B", f"P{n}-C"])
    with django_assert_max_num_queries(4), CaptureQueriesContext(db) as many:  # user, count, page, variants
        response, body = get(api, page_size=50, q="P")
    assert response.status_code == 200 and len(body["data"]) == 50
    assert len(many) == len(few)  # however many products and variants


def test_the_api_never_shows_connection_secrets(as_user, alice, client_a, catalogue):
    ShopifyConnectionFactory(
        client=client_a, shop_domain=SHOP_DOMAIN, access_token=ACCESS_TOKEN, webhook_secret=WEBHOOK_SECRET
    )
    for path in ("/api/v1/products", f"/api/v1/products/{catalogue['kurta'].public_id}"):
        content = as_user(alice).get(path).content
        assert ACCESS_TOKEN.encode() not in content and WEBHOOK_SECRET.encode() not in content


def test_the_selector_filters_like_the_api(client_a, catalogue):
    assert [p.title for p in selectors.product_list(client=client_a, q="kur-", status="active")] == [
        "Bedsheet",
        "Indigo Kurta",
    ]
    assert selectors.product_list(client=client_a, q=None, status=None).count() == 5


# --- demo catalogue ------------------------------------------------------------------------------


def test_demo_products_are_valid_realistic_and_seeded_once(client_a, client_b, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):  # one lookup, one insert of products, one of variants
        assert demo.seed_products(client=client_a, count=40) == 40
    assert demo.seed_products(client=client_a, count=40) == 0
    assert demo.seed_products(client=client_a, count=45) == 5
    assert demo.seed_products(client=client_b, count=3) == 3

    products = Product.objects.for_client(client_a)
    assert products.count() == 45
    for product in products.prefetch_related("variants"):
        product.full_clean()
        assert product.variants.exists()
        for variant in product.variants.all():
            variant.full_clean()
            assert variant.price > 0 and (variant.compare_at_price is None or variant.compare_at_price > variant.price)
            assert len(variant.barcode) == 13 and demo.ean13(variant.barcode[:12]) == variant.barcode
    skus = list(ProductVariant.objects.for_client(client_a).values_list("sku", flat=True))
    assert len(skus) == len(set(skus))
    assert set(products.values_list("status", flat=True)) <= set(ProductStatus.values)
    assert products.filter(status=ProductStatus.ACTIVE).count() > 30
