"""Shopify's mandatory privacy (compliance) webhooks: customers/data_request, customers/redact, shop/redact.

They arrive like every other delivery (signed, stored once, processed by the worker). Each is audited.

- customers/data_request: a JSON file of everything Caly holds about the customer (the customer, their
  orders and phone numbers, the calls with one of those numbers or linked to them) goes to private storage;
  the client's owners are e-mailed and download it from the Integrations page, to hand to the store.
- customers/redact: the customer, their phone numbers and every file answering a data request about them
  are deleted; their orders (and the ones Shopify lists) stay as the store's anonymous records, with the
  customer link and the billing and shipping numbers removed; the calls linked to them or made with one of
  their numbers lose the link, and the number is masked on those calls (recordings.calls_number_mask).
- shop/redact: the store's customers, orders, phone numbers, call links, products and data-request files
  are deleted and the connection's sync state is wiped. Shopify sends it only 48 hours after the app was
  uninstalled (never when it was installed again), so one for a store that is installed is refused.

A body that cannot be its topic (another shop, no customer, a data request's body under customers/redact)
is refused before it is stored (topic_problem) and, processed anyway, fails without changing anything.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts import emails
from accounts import tasks as account_tasks
from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from accounts.roles import Role
from caly.foundation.storage import store_stream
from integrations.models import (
    CallCustomer,
    CallMatch,
    Product,
    ShopifyConnection,
    ShopifyCustomer,
    ShopifyDataRequest,
    ShopifyOrder,
    ShopifyPhone,
    WebhookStatus,
)
from integrations.processing import PermanentError, RefusedEvent
from integrations.shopify import ids, phones
from recordings.models import Call
from recordings.services import calls_number_mask

DATA_REQUEST = "customers/data_request"
CUSTOMER_REDACT = "customers/redact"
SHOP_REDACT = "shop/redact"
TOPICS = (DATA_REQUEST, CUSTOMER_REDACT, SHOP_REDACT)

# The keys that tell the three bodies apart (and from every other topic's): Shopify signs the body, not the
# X-Shopify-Topic header, so a data request's body replayed as customers/redact, or a customer's redact
# replayed as shop/redact, must not pass.
_OWN_KEYS = {
    DATA_REQUEST: frozenset({"shop_id", "shop_domain", "customer", "orders_requested", "data_request"}),
    CUSTOMER_REDACT: frozenset({"shop_id", "shop_domain", "customer", "orders_to_redact"}),
    SHOP_REDACT: frozenset({"shop_id", "shop_domain"}),
}
_REQUIRED_KEYS = {
    DATA_REQUEST: frozenset({"shop_domain", "customer", "data_request"}),
    CUSTOMER_REDACT: frozenset({"shop_domain", "customer"}),
    SHOP_REDACT: frozenset({"shop_domain"}),
}
IDS_MAX = 10_000  # order ids one delivery may list
FILE_MAX_BYTES = 256 * 1024 * 1024
DATA_REQUEST_PREFIX = "privacy"


class _Malformed(ValueError):
    pass


def topic_problem(topic: str, payload: dict[str, Any], *, shop_domain: str) -> str | None:
    """Why a signed body cannot be a delivery of the privacy `topic`, or None (None too for any other topic)."""
    if topic not in TOPICS:
        return None
    keys = frozenset(payload.keys())
    if keys - _OWN_KEYS[topic] or _REQUIRED_KEYS[topic] - keys:
        return f"A {topic} delivery carries {', '.join(sorted(_REQUIRED_KEYS[topic]))} only; this body is not one."
    domain = payload.get("shop_domain")
    if not isinstance(domain, str) or domain.strip().lower() != shop_domain:
        return f"A {topic} delivery names this connection's shop; this body names another."
    try:
        _id_or_none(payload.get("shop_id"))
        if topic in (DATA_REQUEST, CUSTOMER_REDACT):
            _customer_ref(payload.get("customer"))
            _ids(payload.get("orders_requested" if topic == DATA_REQUEST else "orders_to_redact"))
        if topic == DATA_REQUEST:
            request = payload.get("data_request")
            if not isinstance(request, dict):
                raise _Malformed("data_request is not an object")
            _id(request.get("id"))
    except _Malformed as exc:
        return f"A {topic} delivery's body is malformed: {exc}."
    return None


def handle(topic: str, *, connection: ShopifyConnection, payload: dict[str, Any]) -> str:
    """Apply one privacy delivery inside the caller's transaction; the WebhookStatus it ends in.

    Raises PermanentError when the body cannot be one of its topic and RefusedEvent for a shop/redact of a
    store that has the app installed."""
    problem = topic_problem(topic, payload, shop_domain=connection.shop_domain)
    if problem:
        raise PermanentError(problem)
    if topic == DATA_REQUEST:
        return _data_request(connection, payload)
    if topic == CUSTOMER_REDACT:
        return _customer_redact(connection, payload)
    if topic == SHOP_REDACT:
        return _shop_redact(connection, payload)
    return WebhookStatus.IGNORED


# --- customers/data_request --------------------------------------------------------------------


def _data_request(connection: ShopifyConnection, payload: dict[str, Any]) -> str:
    client = connection.client
    request_id = _id(payload["data_request"]["id"])
    if ShopifyDataRequest.objects.for_client(client).filter(shopify_request_id=request_id).exists():
        return WebhookStatus.IGNORED  # answered already (Shopify sent it again under another webhook id)
    ref = _customer_ref(payload["customer"])
    customers = list(_customers(client, ref))
    order_ids = _ids(payload.get("orders_requested"))
    orders = list(
        ShopifyOrder.objects.for_client(client)
        .filter(Q(customer__in=customers) | Q(shopify_id__in=order_ids))
        .order_by("processed_at", "id")
    )
    numbers = _numbers(client, customers, orders, ref)
    calls = _calls(client, customers, orders, numbers)
    document = {
        "request": {
            "topic": DATA_REQUEST,
            "shop_domain": connection.shop_domain,
            "data_request_id": request_id,
            "customer": {k: v for k, v in payload["customer"].items() if k in ("id", "email", "phone")},
            "orders_requested": order_ids,
            "answered_at": timezone.now().isoformat(),
        },
        "customers": [_customer_document(customer) for customer in customers],
        "orders": [_order_document(order) for order in orders],
        "phone_numbers": sorted(numbers),
        "calls": [_call_document(call) for call in calls],
    }
    counts = {"customers": len(customers), "orders": len(orders), "calls": len(calls)}
    key = f"{DATA_REQUEST_PREFIX}/{client.public_id}/{uuid.uuid4()}.json"
    reader = store_stream(
        key=key, stream=_json_chunks(document), content_type="application/json", max_bytes=FILE_MAX_BYTES
    )
    data_request = ShopifyDataRequest.objects.create(
        client=client,
        shopify_request_id=request_id,
        customer_shopify_id=ref["id"],
        storage_key=key,
        size_bytes=reader.size_bytes,
        sha256=reader.sha256,
        counts=counts,
    )
    audit_record(
        action=AuditAction.SHOPIFY_DATA_REQUESTED,
        client=client,
        target=data_request,
        metadata={"data_request_id": request_id, "customer_shopify_id": ref["id"], **counts},
    )
    owners = list(
        User.objects.for_client(client).filter(role=Role.OWNER, is_active=True).values_list("email", flat=True)
    )
    link = emails.site_link(reverse("integrations:data-requests"))
    for owner in owners:
        mail = emails.Email(
            to=owner,
            template="shopify_data_request",
            context={"client_name": client.name, "shop_domain": connection.shop_domain, "link": link},
        )
        transaction.on_commit(lambda mail=mail: account_tasks.email_enqueue(mail))
    return WebhookStatus.PROCESSED


def _json_chunks(document: dict[str, Any]) -> Iterator[bytes]:
    for chunk in json.JSONEncoder(indent=2, ensure_ascii=False, default=str).iterencode(document):
        yield chunk.encode()


def _customer_document(customer: ShopifyCustomer) -> dict[str, Any]:
    return {
        "shopify_id": customer.shopify_id,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "phone": customer.phone,
        "tags": customer.tags,
        "orders_count": customer.orders_count,
        "total_spent": str(customer.total_spent),
        "currency": customer.currency,
        "shopify_created_at": customer.shopify_created_at,
        "shopify_updated_at": customer.shopify_updated_at,
        "synced_at": customer.synced_at,
    }


def _order_document(order: ShopifyOrder) -> dict[str, Any]:
    return {
        "shopify_id": order.shopify_id,
        "name": order.name,
        "processed_at": order.processed_at,
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "cancelled_at": order.cancelled_at,
        "closed_at": order.closed_at,
        "total": str(order.total),
        "currency": order.currency,
        "item_count": order.item_count,
    }


def _call_document(call: Call) -> dict[str, Any]:
    return {
        "id": str(call.public_id),
        "direction": call.direction,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "status": call.status,
        "started_at": call.started_at,
        "ended_at": call.ended_at,
        "duration_seconds": call.duration_seconds,
        "has_recording": call.has_recording,
        "notes": call.notes,
        "custom_field": call.metadata.get("custom_field", "") if isinstance(call.metadata, dict) else "",
    }


@transaction.atomic
def data_request_download_record(*, data_request: ShopifyDataRequest, actor: User) -> None:
    """An owner downloads a data request's file: audited, and the time shown on the page."""
    now = timezone.now()
    ShopifyDataRequest.objects.filter(pk=data_request.pk).update(downloaded_at=now)
    data_request.downloaded_at = now
    audit_record(
        action=AuditAction.SHOPIFY_DATA_DOWNLOADED,
        client=data_request.client,
        actor=actor,
        target=data_request,
        metadata={"data_request_id": data_request.shopify_request_id},
    )


# --- customers/redact --------------------------------------------------------------------------


def _customer_redact(connection: ShopifyConnection, payload: dict[str, Any]) -> str:
    client = connection.client
    ref = _customer_ref(payload["customer"])
    customers = list(_customers(client, ref))
    order_ids = _ids(payload.get("orders_to_redact"))
    orders = ShopifyOrder.objects.for_client(client).filter(Q(customer__in=customers) | Q(shopify_id__in=order_ids))
    order_pks = list(orders.values_list("pk", flat=True))
    numbers = _numbers(client, customers, order_pks, ref)
    links = CallCustomer.objects.for_client(client).filter(Q(customer__in=customers) | Q(order__in=order_pks))
    unlinked = links.update(customer=None, order=None, match=CallMatch.NONE, phone="")
    masked = calls_number_mask(client=client, numbers=numbers)
    phones_deleted = (
        ShopifyPhone.objects.for_client(client).filter(Q(customer__in=customers) | Q(order__in=order_pks)).delete()[0]
    )
    anonymised = (
        ShopifyOrder.objects.filter(pk__in=order_pks)
        .filter(Q(customer__isnull=False) | Q(customer_shopify_id__isnull=False))
        .update(customer=None, customer_shopify_id=None)
    )
    files = ShopifyDataRequest.objects.for_client(client).filter(
        customer_shopify_id__in=[c.shopify_id for c in customers] + ([ref["id"]] if ref["id"] else [])
    )
    files_deleted = _data_requests_delete(files)
    ShopifyCustomer.objects.filter(pk__in=[c.pk for c in customers]).delete()
    counts = {
        "customers": len(customers),
        "orders_anonymised": anonymised,
        "phone_numbers": phones_deleted,
        "calls_unlinked": unlinked,
        "calls_masked": masked,
        "data_request_files_deleted": files_deleted,
    }
    if not any(counts.values()):
        return WebhookStatus.IGNORED  # nothing of this customer is held (any more)
    audit_record(
        action=AuditAction.SHOPIFY_CUSTOMER_REDACTED,
        client=client,
        target=connection,
        metadata={"customer_shopify_id": ref["id"], **counts},
    )
    return WebhookStatus.PROCESSED


# --- shop/redact -------------------------------------------------------------------------------


def _shop_redact(connection: ShopifyConnection, payload: dict[str, Any]) -> str:
    if connection.verified_at is not None and connection.uninstalled_at is None:
        raise RefusedEvent(
            f"{connection.shop_domain} has the app installed: Shopify sends shop/redact only 48 hours after an "
            "uninstall, so nothing was erased."
        )
    counts = shop_data_erase(client=connection.client, connection=connection)
    audit_record(
        action=AuditAction.SHOPIFY_SHOP_REDACTED,
        client=connection.client,
        target=connection,
        metadata={"shop_domain": connection.shop_domain, **counts},
    )
    return WebhookStatus.PROCESSED


def shop_data_erase(*, client: Client, connection: ShopifyConnection) -> dict[str, int]:
    """Delete everything Caly keeps from the client's store and wipe the connection's sync state; the
    connection (its webhook address) and the calls stay. Returns how many rows of each kind went."""
    counts = {
        "call_links": CallCustomer.objects.for_client(client).delete()[0],
        "phone_numbers": ShopifyPhone.objects.for_client(client).delete()[0],
        "orders": ShopifyOrder.objects.for_client(client).delete()[0],
        "customers": ShopifyCustomer.objects.for_client(client).delete()[0],
        "data_request_files": _data_requests_delete(ShopifyDataRequest.objects.for_client(client)),
    }
    products = Product.objects.for_client(client)
    counts["products"] = products.count()
    products.delete()  # the variants go with them
    ShopifyConnection.objects.filter(pk=connection.pk).update(
        last_sync_started_at=None,
        last_sync_at=None,
        last_sync_status="",
        last_sync_counts={},
        last_sync_error="",
        customers_synced_at=None,
        customers_sync_status="",
        customers_sync_counts={},
        customers_sync_error="",
        customers_watermark=None,
        bulk_operation_id="",
        webhook_subscriptions={},
        updated_at=timezone.now(),
    )
    return counts


def _data_requests_delete(requests) -> int:
    """Delete data-request rows and, once the transaction commits, their files."""
    keys = list(requests.values_list("storage_key", flat=True))
    requests.delete()
    transaction.on_commit(lambda: [default_storage.delete(key) for key in keys])
    return len(keys)


# --- whom a delivery is about --------------------------------------------------------------------


def _customers(client: Client, ref: dict[str, Any]):
    """The stored customers a delivery names: by Shopify id, else by e-mail or phone (Shopify may send only those)."""
    customers = ShopifyCustomer.objects.for_client(client)
    if ref["id"] is not None:
        return customers.filter(shopify_id=ref["id"])
    number = phones.e164(ref["phone"], region=client.country) if ref["phone"] else None
    match = Q(pk__in=[])
    if ref["email"]:
        match |= Q(email__iexact=ref["email"])
    if number:
        match |= Q(phone=number)
    return customers.filter(match)


def _numbers(client: Client, customers: list[ShopifyCustomer], orders: Iterable, ref: dict[str, Any]) -> set[str]:
    """Every E.164 number Caly holds for these customers and orders, and the one the delivery names."""
    numbers = {c.phone for c in customers if c.phone}
    numbers.update(
        ShopifyPhone.objects.for_client(client)
        .filter(Q(customer__in=customers) | Q(order__in=orders))
        .values_list("phone", flat=True)
    )
    named = phones.e164(ref["phone"], region=client.country) if ref["phone"] else None
    if named:
        numbers.add(named)
    return numbers


def _calls(client: Client, customers: list[ShopifyCustomer], orders: list[ShopifyOrder], numbers: set[str]):
    linked = CallCustomer.objects.for_client(client).filter(Q(customer__in=customers) | Q(order__in=orders))
    match = Q(pk__in=linked.values("call_id"))
    if numbers:
        match |= Q(from_number__in=numbers) | Q(to_number__in=numbers)
    return list(Call.objects.for_client(client).filter(match).order_by("started_at", "id"))


def _customer_ref(value: Any) -> dict[str, Any]:
    """{"id", "email", "phone"} of the delivery's customer; at least one of them is there."""
    if not isinstance(value, dict):
        raise _Malformed("customer is not an object")
    email, phone = value.get("email"), value.get("phone")
    ref = {
        "id": _id_or_none(value.get("id")),
        "email": email.strip()[:254] if isinstance(email, str) else "",
        "phone": phone.strip()[:64] if isinstance(phone, str) else "",
    }
    if ref["id"] is None and not ref["email"] and not ref["phone"]:
        raise _Malformed("customer has no id, e-mail or phone")
    return ref


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > IDS_MAX:
        raise _Malformed("the order ids are not a list")
    return [_id(item) for item in value]


def _id_or_none(value: Any) -> int | None:
    return None if value is None else _id(value)


def _id(value: Any) -> int:
    """A positive 64-bit id from an integer, a string of digits or a gid (old deliveries sent strings)."""
    try:
        return ids.parse(value)
    except ids.InvalidId as exc:
        raise _Malformed("an id is out of range" if exc.out_of_range else "an id is not a number") from None
