"""Provider input made safe: ids, text, money, quantities, tags, statuses, times and HTML descriptions."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from integrations.shopify import payloads
from integrations.shopify.payloads import PayloadError


@pytest.mark.parametrize(
    ("value", "expected"),
    [(632910392, 632910392), ("632910392", 632910392), ("gid://shopify/Product/7", 7), (2**63 - 1, 2**63 - 1)],
)
def test_it_reads_shopify_ids(value, expected):
    assert payloads.shopify_id(value) == expected


@pytest.mark.parametrize("value", [None, 0, -5, 2**63, True, 1.5, "", "12a", "gid://shopify/Product/", [], "9" * 20])
def test_it_refuses_unusable_ids(value):
    with pytest.raises(PayloadError):
        payloads.shopify_id(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("499.5", Decimal("499.50")),
        (1299, Decimal("1299.00")),
        ("0.005", Decimal("0.01")),
        (None, None),
        ("", None),
        ("NaN", None),
        ("Infinity", None),
        ("1e20", None),
        (True, None),
        ({"amount": "1"}, None),
    ],
)
def test_it_reads_money_that_fits_the_column(value, expected):
    assert payloads.money(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(5, 5), (-3, -3), (7.0, 7), (2**31, None), (1.5, None), ("5", None), (None, None)]
)
def test_it_reads_quantities_that_fit_the_column(value, expected):
    assert payloads.integer(value) == expected


def test_it_reads_tags_from_a_list_or_a_comma_string():
    assert payloads.tags("sale, women ,, sale,x" + "y" * 300) == ["sale", "women", "x" + "y" * 254]
    assert payloads.tags(["a", " a", 3, None, "b"]) == ["a", "b"]
    assert payloads.tags(None) == []
    assert len(payloads.tags(",".join(str(n) for n in range(400)))) == payloads.TAGS_MAX


@pytest.mark.parametrize(
    ("value", "expected"),
    [("ACTIVE", "active"), ("archived", "archived"), ("UNLISTED", "unlisted"), ("gone", "draft"), (None, "draft")],
)
def test_it_maps_statuses(value, expected):
    assert payloads.status(value) == expected


def test_it_reads_times_with_an_offset_only():
    assert payloads.timestamp("2026-03-01T15:30:00+05:30") == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert payloads.timestamp("2023-03-29T18:00:27.877041743Z").year == 2023
    for value in ("2026-03-01T10:00:00", "yesterday", "", None, 1700000000, "2" * 100):
        assert payloads.timestamp(value) is None


def test_it_turns_body_html_into_plain_text():
    html = (
        "<h2>Indigo&nbsp;Kurta</h2><p>Hand <b>block</b>-printed.<br>Size&nbsp;M &amp; L</p>"
        "<script>alert('x')</script><style>p{}</style><ul><li>Cotton</li><li>Machine wash</li></ul>"
        "<p></p><p></p><p>&lt;not a tag&gt;</p>"
    )
    assert payloads.html_to_text(html) == (
        "Indigo Kurta\nHand block-printed.\nSize M & L\nCotton\nMachine wash\n\n<not a tag>"
    )
    assert payloads.html_to_text(None) == ""
    assert payloads.html_to_text("a\x00b") == "ab"


def test_it_cuts_text_to_the_columns():
    product = payloads.product_from_rest({"id": 1, "title": "t" * 300, "vendor": 5, "handle": None})
    assert (len(product.title), product.vendor, product.handle) == (255, "", "")


def test_it_reads_a_rest_product_without_optional_parts():
    product = payloads.product_from_rest({"id": "42", "variants": [{"id": 1}, "junk", {"id": 2, "sku": "A"}]})
    assert product.shopify_id == 42 and product.images_count == 0 and product.updated_at is None
    assert [(v.shopify_id, v.sku, v.price) for v in product.variants] == [(1, "", None), (2, "A", None)]


def test_a_product_with_a_broken_variant_id_is_refused():
    with pytest.raises(PayloadError):
        payloads.product_from_rest({"id": 1, "variants": [{"id": "x"}]})
    with pytest.raises(PayloadError):
        payloads.product_from_graphql({"id": "gid://shopify/Product/1", "variants": {"nodes": [{"sku": "A"}]}})
    with pytest.raises(PayloadError):
        payloads.product_from_rest(["not", "an", "object"])
