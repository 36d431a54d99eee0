"""Phone numbers as Shopify stores them (free text, national or international, with extensions) made E.164.

The client's country is the default region: "098765 43210" of an Indian store is +919876543210. A number
that cannot be a real one of any region is dropped, never guessed; an extension is not part of the match.
"""

from __future__ import annotations

from collections.abc import Iterable

from caly.foundation.phones import MAX_INPUT, e164

__all__ = ["MAX_INPUT", "e164", "e164_all"]


def e164_all(values: Iterable[object], *, region: str) -> list[str]:
    """The distinct valid numbers among `values`, E.164, in first-seen order."""
    seen: dict[str, None] = {}
    for value in values:
        number = e164(value, region=region)
        if number is not None:
            seen.setdefault(number, None)
    return list(seen)
