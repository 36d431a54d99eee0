"""django-ratelimit (4.1): the cache key of the counter `get_usage` increments.

django-ratelimit counts a request but cannot give one back, and sign-in gives back the attempts
whose password was right (accounts/ratelimits.py). Decrementing the counter needs its cache key,
which django-ratelimit builds with private helpers of `django_ratelimit.core`:

- `_SIMPLE_KEYS`: what the "ip" and "user" keys read from a request;
- `_split_rate`: "5/15m" -> (5, 900);
- `_get_window`: when a value's current window ends (epoch seconds; each value has its own offset);
- `_make_cache_key`: the counter's key from group, window, rate, value and methods.

tests/test_library_adapters.py counts a request with `get_usage` and checks that `counter_key`
names the counter it incremented.
"""

from __future__ import annotations

from django_ratelimit.core import _SIMPLE_KEYS, ALL, _get_window, _make_cache_key, _split_rate


def split_rate(rate: str) -> tuple[int, int]:
    """ "5/15m" -> (5, 900): the limit and the period in seconds, as django-ratelimit reads a rate."""
    return _split_rate(rate)


def window_end(value: str, period: int) -> int:
    """When the current window of a key's value ends (epoch seconds), as django-ratelimit counts it."""
    return _get_window(value, period)


def counter_key(request, *, group: str, key, rate: str) -> str:
    """The cache key of the counter `get_usage(request, group=group, key=key, rate=rate)` counts in now."""
    value = key(group, request) if callable(key) else _SIMPLE_KEYS[key](request)
    return _make_cache_key(group, _get_window(value, split_rate(rate)[1]), rate, value, ALL)
