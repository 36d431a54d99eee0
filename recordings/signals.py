"""What recordings tells the apps above it, which it cannot import.

`call_saved` is sent once the transaction that created a call, or changed what identifies its customer
(numbers, notes, metadata), has committed: receivers (integrations links the call to its Shopify
customer) see the committed row and cannot undo the write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import transaction
from django.dispatch import Signal

if TYPE_CHECKING:  # apps import this module while the app registry loads, before models may be imported
    from recordings.models import Call

logger = logging.getLogger("caly.recordings")

# Sent with sender=Call, call=<the Call>, created=<bool>, fields=<names of the changed fields, or all>.
call_saved = Signal()
# The fields a receiver may care about: a change of any other field sends nothing.
CALL_IDENTITY_FIELDS = frozenset({"direction", "from_number", "to_number", "notes", "metadata"})


def call_saved_on_commit(*, call: Call, created: bool, fields: Iterable[str] = CALL_IDENTITY_FIELDS) -> None:
    """Send `call_saved` when the current transaction commits (at once outside one), if `fields` matter;
    `call_changed` at once, whatever changed.

    A receiver's failure is logged by Django (robust on_commit) and never fails the write that sent it.
    """
    send_in_transaction(call_changed, type(call), call=call, created=created, fields=frozenset(fields))
    changed = frozenset(fields) & CALL_IDENTITY_FIELDS
    if created or changed:
        transaction.on_commit(
            lambda: call_saved.send(sender=type(call), call=call, created=created, fields=changed), robust=True
        )


# Sent inside the transaction that wrote the change, so a receiver's writes (outbound webhook events)
# commit or roll back with it: sender=Call, call=<the Call>, created=<bool>, fields=<the name of every
# changed field>. A receiver must be cheap, and writes in a savepoint of its own (transaction.atomic())
# so that its failure, logged by `send_in_transaction`, leaves the write's transaction usable.
call_changed = Signal()
# Sent the same way when a recording is stored or fails for good: sender=Recording, recording=<it>.
recording_changed = Signal()


def send_in_transaction(signal: Signal, sender: type, **kwargs: object) -> None:
    """Send `signal` now; a receiver's error is logged and never fails the write that sent it."""
    for receiver, outcome in signal.send_robust(sender, **kwargs):
        if isinstance(outcome, Exception):
            logger.error(
                "%s failed for %s", getattr(receiver, "__qualname__", receiver), sender.__name__, exc_info=outcome
            )
