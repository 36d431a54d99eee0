"""Shopify's ids as its payloads write them: an integer, a string of digits or a `gid://shopify/Type/123`.

One reading for every parser (GraphQL nodes, webhook JSON, the privacy deliveries); each turns the
reason into its own error.
"""

from __future__ import annotations

import re
from typing import Any

ID_LIMIT = 2**63 - 1
DIGITS = re.compile(r"[0-9]{1,19}")
GID = re.compile(r"gid://shopify/[A-Za-z]+/([0-9]{1,19})")


class InvalidId(ValueError):
    """`out_of_range` tells a number too large or not positive from something that is no id at all."""

    def __init__(self, *, out_of_range: bool):
        super().__init__("out of range" if out_of_range else "not a number")
        self.out_of_range = out_of_range


def parse(value: Any) -> int:
    """The positive 64-bit id `value` writes. Raises InvalidId."""
    if isinstance(value, bool):
        raise InvalidId(out_of_range=False)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and (DIGITS.fullmatch(value) or GID.fullmatch(value)):
        match = GID.fullmatch(value)
        number = int(match.group(1) if match else value)
    else:
        raise InvalidId(out_of_range=False)
    if not 0 < number <= ID_LIMIT:
        raise InvalidId(out_of_range=True)
    return number
