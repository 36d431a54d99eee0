"""Django (5.2): row-value comparisons, `(a, b) < (x, y)`, for keyset pagination.

Django 5.2 compares tuples of columns for composite primary keys, but publicly exposes no way to
write such a filter: `django.db.models.fields.tuple_lookups` is undocumented. The expanded form
`a < x OR (a = x AND b < y)` gives the same rows, but PostgreSQL cannot walk an index on (a, b) with
it; the row value can. `Tuple`, `TupleLessThan` and `TupleGreaterThan` are used here and nowhere else.

tests/test_library_adapters.py runs both comparisons on the database.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan


def rows_before(fields: Sequence[str], position: tuple):
    """A filter for rows whose (fields…) come before `position`, comparing row values."""
    return TupleLessThan(Tuple(*(F(name) for name in fields)), position)


def rows_after(fields: Sequence[str], position: tuple):
    """A filter for rows whose (fields…) come after `position`, comparing row values."""
    return TupleGreaterThan(Tuple(*(F(name) for name in fields)), position)
