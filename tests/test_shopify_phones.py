import pytest

from integrations.shopify.phones import e164, e164_all


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("098765 43210", "+919876543210"),  # national, with the trunk 0
        ("98765-43210", "+919876543210"),
        ("+91 98765 43210", "+919876543210"),
        ("0091 98765 43210", "+919876543210"),  # international prefix dialled from India
        ("+1 (415) 555-2671 ext. 12", "+14155552671"),  # the extension is not part of the match
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_it_writes_a_stores_numbers_in_e164(written, expected):
    assert e164(written, region="IN") == expected


@pytest.mark.parametrize("written", ["", "  ", "abc", "12", "+91 12345", "9" * 80, None, 9876543210, ["+919876543210"]])
def test_it_drops_what_cannot_be_a_number(written):
    assert e164(written, region="IN") is None


def test_the_region_reads_numbers_without_a_country_code():
    assert e164("(415) 555-2671", region="US") == "+14155552671"
    assert e164("(415) 555-2671", region="IN") != "+14155552671"


def test_it_keeps_each_number_once_in_first_seen_order():
    assert e164_all(["+91 98765 43210", "bad", "098765 43210", "+14155552671"], region="IN") == [
        "+919876543210",
        "+14155552671",
    ]
