"""What the apps above recordings add to a call, asked through one dotted path: settings.CALL_CONTEXT.

recordings shows calls but cannot import the apps that know who was on them (integrations links a call to
its Shopify customer and orders). CALL_CONTEXT names a module providing:

- `call_detail(call) -> dict`: extra keys of the call's detail (the customer, latest orders, how matched);
- `call_columns() -> dict[str, Expression]`: the list's extra keys (LIST_ROW_FIELDS) as expressions its `.values()`
  reads in the list's own statement, each giving the row's final value (a call with none gets None);
- `call_rows(*, client, call_ids) -> dict[int, dict]`: the same keys for calls read on their own, by call id, in
  one query (a call left out gets None for each of LIST_ROW_FIELDS);
- `call_filter(*, client, customer=None, order=None, q=None) -> Q | None`: a condition on calls for the
  list's `customer=`, `order=` and the extra arms of `q=` (None: nothing to add).
- optionally `call_card(*, call) -> dict | None`: the call page's card, a context with the `template` showing it.

An empty CALL_CONTEXT adds nothing. The system check imports the module at start, so a wrong path stops
`manage.py migrate` and the worker instead of the first call page.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import checks
from django.db.models import Q

if TYPE_CHECKING:
    from accounts.models import Client
    from recordings.models import Call

HOOKS = ("call_detail", "call_columns", "call_rows", "call_filter")
# The keys `call_columns` and `call_rows` give each row of the list (None when a call has none): its last fields.
LIST_ROW_FIELDS = ("customer",)


def _module() -> ModuleType | None:
    path = getattr(settings, "CALL_CONTEXT", "")
    return importlib.import_module(path) if path else None


def call_detail(call: Call) -> dict[str, Any]:
    """What the registered module adds to a call's detail ({} without one)."""
    module = _module()
    return module.call_detail(call) if module else {}


def call_columns() -> dict[str, Any]:
    """The registered module's expressions for the list's `.values()`: its rows' extra keys, read in the list's own
    statement ({} without a module)."""
    module = _module()
    return module.call_columns() if module else {}


def call_rows(*, client: Client, call_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """What the registered module adds to each row of a page of calls, by call id ({} without one)."""
    module = _module()
    ids = list(call_ids)
    return module.call_rows(client=client, call_ids=ids) if module and ids else {}


def call_filter(*, client: Client, customer: Any = None, order: str | None = None, q: str | None = None) -> Q | None:
    """The registered module's condition on calls for these filters (None: nothing to add)."""
    module = _module()
    if module is None or (customer is None and not order and not q):
        return None
    return module.call_filter(client=client, customer=customer, order=order, q=q)


def call_context_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """settings.CALL_CONTEXT, if set, names a module that imports and provides every hook."""
    path = getattr(settings, "CALL_CONTEXT", "")
    if not path:
        return []
    try:
        module = importlib.import_module(path)
    except ImportError as exc:
        return [
            checks.Error(
                f"settings.CALL_CONTEXT names {path!r}, which cannot be imported: {exc}",
                hint="Give the dotted path of a module, or leave it empty.",
                id="recordings.E003",
            )
        ]
    missing = [name for name in HOOKS if not callable(getattr(module, name, None))]
    if missing:
        return [
            checks.Error(f"settings.CALL_CONTEXT module {path!r} lacks {', '.join(missing)}.", id="recordings.E004")
        ]
    return []


def call_card(*, call: Call) -> dict[str, Any] | None:
    """The registered module's card for the call page: a context with the `template` that shows it (None
    without a module, or when it offers no card)."""
    module = _module()
    card = getattr(module, "call_card", None) if module else None
    return card(call=call) if card else None
