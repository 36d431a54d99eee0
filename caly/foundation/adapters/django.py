"""Django (5.2): row-value comparisons for keyset pagination, and whether a lazy user was loaded.

Row values, `(a, b) < (x, y)`: Django 5.2 compares tuples of columns for composite primary keys, but
publicly exposes no way to write such a filter: `django.db.models.fields.tuple_lookups` is undocumented.
The expanded form `a < x OR (a = x AND b < y)` gives the same rows, but PostgreSQL cannot walk an index
on (a, b) with it; the row value can. `Tuple`, `TupleLessThan` and `TupleGreaterThan` are used here and nowhere else.

The lazy user: `request.user` is a `SimpleLazyObject`; reading any attribute of it loads the user (a
query). Whether it was loaded already is only in its private `_wrapped` (compared with
`django.utils.functional.empty`), used here and nowhere else.

tests/test_library_adapters.py runs both comparisons on the database and checks both states of a lazy object.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.utils.functional import empty


def rows_before(fields: Sequence[str], position: tuple):
    """A filter for rows whose (fields…) come before `position`, comparing row values."""
    return TupleLessThan(Tuple(*(F(name) for name in fields)), position)


def rows_after(fields: Sequence[str], position: tuple):
    """A filter for rows whose (fields…) come after `position`, comparing row values."""
    return TupleGreaterThan(Tuple(*(F(name) for name in fields)), position)


def loaded_or_none(value):
    """What a lazy object holds if it was evaluated already, else None; a plain value as it is."""
    wrapped = getattr(value, "_wrapped", value)
    return None if wrapped is empty else wrapped
