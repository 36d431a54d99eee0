"""Phone numbers as people type them (national or international, with spaces and dashes) made E.164.

The client's country is the default region: "098765 43210" typed for an Indian company is +919876543210.
A number that cannot be a real one of any region is refused, never guessed.
"""

from __future__ import annotations

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
