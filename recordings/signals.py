"""What recordings tells the apps above it, which it cannot import.

`call_saved` is sent once the transaction that created a call, or changed what identifies its customer
(numbers, notes, metadata), has committed: receivers (integrations links the call to its Shopify
customer) see the committed row and cannot undo the write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.dispatch import Signal

if TYPE_CHECKING:  # apps import this module while the app registry loads, before models may be imported
    from recordings.models import Call

# Sent with sender=Call, call=<the Call>, created=<bool>, fields=<names of the changed fields, or all>.
call_saved = Signal()
# The fields a receiver may care about: a change of any other field sends nothing.
CALL_IDENTITY_FIELDS = frozenset({"direction", "from_number", "to_number", "notes", "metadata"})


def call_saved_on_commit(*, call: Call, created: bool, fields: Iterable[str] = CALL_IDENTITY_FIELDS) -> None:
    """Send `call_saved` when the current transaction commits (at once outside one), if `fields` matter.

    A receiver's failure is logged by Django (robust on_commit) and never fails the write that sent it.
    """
    changed = frozenset(fields) & CALL_IDENTITY_FIELDS
    if created or changed:
        transaction.on_commit(
            lambda: call_saved.send(sender=type(call), call=call, created=created, fields=changed), robust=True
        )
