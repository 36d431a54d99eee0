"""What accounts tells the apps above it, which it cannot import.

`phone_registered` is sent inside the transaction that registered a member's number, with
sender=MemberPhone and phone=<the MemberPhone>: recordings attributes the calls already stored on that
number to the member, in the same transaction.
"""

from __future__ import annotations

from django.dispatch import Signal

phone_registered = Signal()
