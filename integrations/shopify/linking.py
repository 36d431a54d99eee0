"""Which Shopify customer (and order) each call is about, and how Caly knows.

The customer's number on a call is the caller on an inbound call and the dialled number on an outbound
one. It is matched exactly (both sides are E.164) against the client's ShopifyPhone rows: one distinct
customer links the call (PHONE), several make it AMBIGUOUS (never guessed), none is NONE.

An order reference written on the call (Exotel's CustomField, the notes) wins over the number: `#1042`,
`order-1042` and the store's own prefix (`CP-1042`) name order 1042. The store's prefix is learnt from the
names of its orders: a reference counts when its letters are the letters before the number in the name of
an order with that number. References are kept (CallOrderReference), so a call stored before its order or
customer reached Caly is linked when they do: the upserts call `calls_relink` with the numbers and order
numbers they changed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Client
from integrations.models import CallCustomer, CallMatch, CallOrderReference, ShopifyOrder, ShopifyPhone
from integrations.outbound import events as outbound_events
from recordings.models import Call, Direction

T = TypeVar("T")
GENERIC_TAGS = frozenset({"#", "order"})
MAX_REFERENCES = 20  # per call: enough for any real note, bounded for a pasted wall of text
CHUNK = 500  # ids or numbers per IN (...): well under SQLite's variable limit
# "order" (order 1042, Order #1042, order-1042, order no. 1042), a prefix glued to the number (CP-1042, ORD1042),
# or a "#" (#1042). Bare numbers are not references: a phone number or an amount is not an order.
_REFERENCE = re.compile(
    r"(?<![A-Za-z0-9#])(?:(?P<word>order)[ ]?(?:no\.?|number)?[ ]?[:#-]?[ ]?"
    r"|#?(?P<letters>[A-Za-z]{1,12})[._:-]?|(?P<hash>#)[ ]?)(?P<digits>[0-9]{1,15})(?![0-9])",
    re.IGNORECASE,
)
_NAME_PREFIX = re.compile(r"^(?P<prefix>.*?)[0-9]+\D*$")


@dataclass(frozen=True)
class Reference:
    tag: str
    number: int
    position: int


@dataclass(frozen=True)
class Link:
    customer_id: int | None
    order_id: int | None
    match: str
    phone: str


def customer_number(direction: str, from_number: str, to_number: str) -> str:
    """The customer's side of a call: who called in, or who was dialled."""
    return to_number if direction == Direction.OUTBOUND else from_number


def order_references(*texts: object) -> list[Reference]:
    """The candidate order references in these texts, in order (bare numbers are not references)."""
    found: list[Reference] = []
    for text in texts:
        if not isinstance(text, str):
            continue
        for hit in _REFERENCE.finditer(text):
            tag = "order" if hit["word"] else (hit["letters"] or "#").lower()
            found.append(Reference(tag=tag, number=int(hit["digits"]), position=len(found)))
            if len(found) >= MAX_REFERENCES:
                return found
    return found


def order_name_tag(name: str) -> str:
    """The tag of an order's name: "#1042" → "#", "CP-1042" → "cp", "Order 7" → "order"."""
    match = _NAME_PREFIX.match(name or "")
    letters = re.sub(r"[^a-z]", "", (match["prefix"] if match else "").lower())
    return letters[:12] or "#"


def _call_texts(metadata: object, notes: str) -> tuple[object, str]:
    custom = metadata.get("custom_field") if isinstance(metadata, dict) else None
    return custom, notes


@transaction.atomic
def call_link(*, call: Call) -> CallCustomer:
    """Decide (again) which customer and order `call` is about, from its number, CustomField and notes."""
    references = order_references(*_call_texts(call.metadata, call.notes))
    CallOrderReference.objects.filter(call=call).delete()
    CallOrderReference.objects.bulk_create(
        CallOrderReference(client_id=call.client_id, call=call, number=r.number, tag=r.tag, position=r.position)
        for r in references
    )
    phone = customer_number(call.direction, call.from_number, call.to_number)
    link = _decide(call.client_id, {call.pk: (phone, references)})[call.pk]
    before = CallCustomer.objects.filter(call=call).values_list("customer_id", flat=True).first()
    row, _ = CallCustomer.objects.update_or_create(
        call=call,
        defaults={
            "client_id": call.client_id,
            "customer_id": link.customer_id,
            "order_id": link.order_id,
            "match": link.match,
            "phone": link.phone,
        },
    )
    if link.customer_id is not None and link.customer_id != before:
        outbound_events.customer_linked(client_id=call.client_id, call_ids=[call.pk])
    return row


def calls_relink(*, client: Client, phones: Iterable[str] = (), order_numbers: Iterable[int] = ()) -> int:
    """Re-decide the link of every call of `client` whose customer's number is one of `phones` or that
    references one of `order_numbers`; returns how many links were created or changed. Set-based: a few
    queries per 500 calls, whatever the batch."""
    phone_list = sorted({phone for phone in phones if phone})
    number_list = sorted({int(number) for number in order_numbers if number is not None})
    call_ids: set[int] = set()
    calls = Call.objects.filter(client=client)
    for chunk in _chunks(phone_list):
        call_ids.update(
            calls.filter(
                Q(direction=Direction.INBOUND, from_number__in=chunk)
                | Q(direction=Direction.OUTBOUND, to_number__in=chunk)
            ).values_list("id", flat=True)
        )
    for chunk in _chunks(number_list):
        call_ids.update(
            CallOrderReference.objects.filter(client=client, number__in=chunk).values_list("call_id", flat=True)
        )
    written = 0
    for chunk in _chunks(sorted(call_ids)):
        written += _relink(client, chunk)
    return written


def calls_link_missing(*, client: Client, batch_size: int = CHUNK) -> int:
    """Link every call of `client` that has no link yet (calls written in bulk, or before Caly knew
    Shopify customers); returns how many were linked."""
    linked = 0
    unlinked = Call.objects.filter(client=client, shopify_customer__isnull=True).order_by("id")
    last_id = 0
    while True:
        rows = list(
            unlinked.filter(id__gt=last_id).values("id", "direction", "from_number", "to_number", "notes", "metadata")[
                :batch_size
            ]
        )
        if not rows:
            return linked
        last_id = rows[-1]["id"]
        with transaction.atomic():
            references = {row["id"]: order_references(*_call_texts(row["metadata"], row["notes"])) for row in rows}
            CallOrderReference.objects.filter(call_id__in=list(references)).delete()
            CallOrderReference.objects.bulk_create(
                CallOrderReference(client=client, call_id=call_id, number=r.number, tag=r.tag, position=r.position)
                for call_id, refs in references.items()
                for r in refs
            )
            linked += _relink(client, [row["id"] for row in rows])


def _relink(client: Client, call_ids: Sequence[int]) -> int:
    """Decide the links of these calls (at most CHUNK) from their stored references and write the changes."""
    with transaction.atomic():
        rows = Call.objects.filter(client=client, id__in=call_ids).values_list(
            "id", "direction", "from_number", "to_number"
        )
        phones = {call_id: customer_number(direction, a, b) for call_id, direction, a, b in rows}
        references: dict[int, list[Reference]] = defaultdict(list)
        for call_id, tag, number, position in (
            CallOrderReference.objects.filter(client=client, call_id__in=list(phones))
            .order_by("position")
            .values_list("call_id", "tag", "number", "position")
        ):
            references[call_id].append(Reference(tag=tag, number=number, position=position))
        links = _decide(client.pk, {call_id: (phone, references[call_id]) for call_id, phone in phones.items()})
        existing = {row.call_id: row for row in CallCustomer.objects.filter(call_id__in=list(links))}
        existing_customer = {call_id: row.customer_id for call_id, row in existing.items()}
        now = timezone.now()
        changed, created = [], []
        for call_id, link in links.items():
            row = existing.get(call_id)
            if row is None:
                created.append(
                    CallCustomer(
                        client_id=client.pk,
                        call_id=call_id,
                        customer_id=link.customer_id,
                        order_id=link.order_id,
                        match=link.match,
                        phone=link.phone,
                        linked_at=now,
                    )
                )
            elif (row.customer_id, row.order_id, row.match, row.phone) != (
                link.customer_id,
                link.order_id,
                link.match,
                link.phone,
            ):
                row.customer_id, row.order_id, row.match, row.phone = (
                    link.customer_id,
                    link.order_id,
                    link.match,
                    link.phone,
                )
                row.linked_at = now
                changed.append(row)
        gained = [
            row.call_id
            for row in [*changed, *created]
            if row.customer_id is not None and row.customer_id != existing_customer.get(row.call_id)
        ]
        CallCustomer.objects.bulk_update(changed, ["customer_id", "order_id", "match", "phone", "linked_at"])
        CallCustomer.objects.bulk_create(created, ignore_conflicts=True)
        outbound_events.customer_linked(client_id=client.pk, call_ids=gained)
        return len(changed) + len(created)


def _decide(client_id: int, calls: dict[int, tuple[str, list[Reference]]]) -> dict[int, Link]:
    """Each call's link, from its customer's number and its order references: two queries for them all."""
    customers_by_phone: dict[str, set[int]] = defaultdict(set)
    for chunk in _chunks(sorted({phone for phone, _ in calls.values() if phone})):
        for phone, customer_id, order_customer_id in ShopifyPhone.objects.filter(
            client_id=client_id, phone__in=chunk
        ).values_list("phone", "customer_id", "order__customer_id"):
            if customer_id or order_customer_id:
                customers_by_phone[phone].add(customer_id or order_customer_id)
    orders_by_number: dict[int, list[tuple[int, int | None, str]]] = defaultdict(list)
    numbers = sorted({r.number for _, refs in calls.values() for r in refs})
    for chunk in _chunks(numbers):
        for order_id, customer_id, number, name in (
            ShopifyOrder.objects.filter(client_id=client_id, number__in=chunk)
            .order_by("id")
            .values_list("id", "customer_id", "number", "name")
        ):
            orders_by_number[number].append((order_id, customer_id, order_name_tag(name)))
    links = {}
    for call_id, (phone, refs) in calls.items():
        by_phone = customers_by_phone.get(phone, set())
        phone_customer = next(iter(by_phone)) if len(by_phone) == 1 else None
        order = _referenced_order(refs, orders_by_number)
        if order is not None:
            order_id, order_customer_id = order
            links[call_id] = Link(order_customer_id or phone_customer, order_id, CallMatch.ORDER, phone)
        elif phone_customer is not None:
            links[call_id] = Link(phone_customer, None, CallMatch.PHONE, phone)
        elif by_phone:
            links[call_id] = Link(None, None, CallMatch.AMBIGUOUS, phone)
        else:
            links[call_id] = Link(None, None, CallMatch.NONE, phone)
    return links


def _referenced_order(
    refs: list[Reference], orders_by_number: dict[int, list[tuple[int, int | None, str]]]
) -> tuple[int, int | None] | None:
    """The first reference that names an order: its letters are the order name's, or generic (#, order)."""
    for ref in sorted(refs, key=lambda r: r.position):
        candidates = orders_by_number.get(ref.number, [])
        exact = [c for c in candidates if c[2] == ref.tag]
        chosen = exact or (candidates if ref.tag in GENERIC_TAGS else [])
        if chosen:
            return chosen[0][0], chosen[0][1]
    return None


def _chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def call_saved_received(sender: type[Call], *, call: Call, **kwargs: object) -> None:
    """recordings' `call_saved`: link the new or changed call."""
    call_link(call=call)
