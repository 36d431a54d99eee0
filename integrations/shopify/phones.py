"""Phone numbers as Shopify stores them (free text, national or international, with extensions) made E.164.

The client's country is the default region: "098765 43210" of an Indian store is +919876543210. A number
that cannot be a real one of any region is dropped, never guessed; an extension is not part of the match.
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers

MAX_INPUT = 64  # longer is not a phone number; parsing it would only cost time


def e164(value: object, *, region: str) -> str | None:
    """`value` as E.164 (+919876543210), read in `region` when it has no country code; None if not a valid number."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_INPUT:
        return None
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def e164_all(values: Iterable[object], *, region: str) -> list[str]:
    """The distinct valid numbers among `values`, E.164, in first-seen order."""
    seen: dict[str, None] = {}
    for value in values:
        number = e164(value, region=region)
        if number is not None:
            seen.setdefault(number, None)
    return list(seen)
