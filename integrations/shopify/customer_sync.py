"""The customers and orders sync: a full one (a bulk operation, or pages for a small store) and the
incremental re-sync that heals missed webhooks by reading what changed since the watermark.

Full sync. A store with more than SMALL_STORE_CUSTOMERS customers is exported with a bulk operation
(`bulkOperationRunQuery`: customers with their orders), polled until it completes, and its JSONL result is
streamed from the URL Shopify gives, line by line, and written in batches of BATCH_SIZE: the file is never
held whole, whatever its size. Orders are lines carrying their customer's id in `__parentId`; since
2026-01 a child need not follow its parent, so each order is written with its customer's Shopify id and
joins the customer whenever both are stored. A line that is not JSON, longer than MAX_LINE_BYTES or cut
short ends the sync as failed (what was written stays: every write is newer-wins). A small store, or one
where the bulk operation cannot run (not allowed for the app, another one in progress), is read in pages
through the cost-throttled client instead; so are incremental re-syncs.

Incremental. `customers(query: "updated_at:>='…'")` and the same for orders, sorted by UPDATED_AT, from
the watermark (the newest `updatedAt` a completed sync saw) minus OVERLAP, since Shopify's filter can
miss records touched in the same second. Orders are never asked for below ORDERS_VISIBLE_DAYS: Shopify
answers an empty page there without `read_all_orders`.

Each batch is written in its own short transaction holding the connection's row lock, as the product
sync's pages are. Only a sync that read everything moves the watermark or deletes customers Shopify no
longer has (full syncs only).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from integrations.models import ShopifyConnection
from integrations.shopify import client as shopify
from integrations.shopify import customers
from integrations.shopify.payloads import (
    CustomerData,
    OrderData,
    PayloadError,
    customer_from_graphql,
    order_from_graphql,
    shopify_id,
)
from integrations.shopify.sync import SYNC_FAILED, SYNC_OK, SYNC_RUNNING, SyncAborted, connection_nodes, lock_unchanged

logger = logging.getLogger("caly.shopify")

FULL, INCREMENTAL = "full", "incremental"
SMALL_STORE_CUSTOMERS = 2_500  # fewer: ten or so pages cost less than a bulk operation's wait
BATCH_SIZE = 1_000
MAX_LINE_BYTES = 1_048_576
BULK_POLL_SECONDS = (2.0, 5.0, 10.0, 30.0)  # then every 30 s
BULK_MAX_WAIT_SECONDS = 6 * 3600.0
OVERLAP = timedelta(minutes=5)
# A sync still "running" after this long died with its worker (a bulk export may take hours to finish).
STALE_AFTER = timedelta(seconds=BULK_MAX_WAIT_SECONDS) + timedelta(hours=2)
ORDERS_VISIBLE_DAYS = 60

CUSTOMER_FIELDS = (
    "id legacyResourceId firstName lastName defaultEmailAddress { emailAddress } "
    "defaultPhoneNumber { phoneNumber } defaultAddress { phone } tags numberOfOrders "
    "amountSpent { amount currencyCode } createdAt updatedAt"
)
ORDER_FIELDS = (
    "id legacyResourceId name processedAt createdAt updatedAt cancelledAt closedAt displayFinancialStatus "
    "displayFulfillmentStatus totalPriceSet { shopMoney { amount currencyCode } } subtotalLineItemsQuantity "
    "phone billingAddress { phone } shippingAddress { phone }"
)
# Cost per node: the object and its nested objects (customer: 4 of them; order: 5 with its customer).
CUSTOMER_NODE_COST, ORDER_NODE_COST = 5, 6
# Pages of 150: 753 and 903 points, under Shopify's 1,000-point limit for one query.
CUSTOMERS_PER_PAGE = ORDERS_PER_PAGE = 150
CUSTOMERS_QUERY = f"""
query CalyCustomers($first: Int!, $after: String, $q: String) {{
  customers(first: $first, after: $after, query: $q, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {CUSTOMER_FIELDS} }}
  }}
}}
"""
ORDERS_QUERY = f"""
query CalyOrders($first: Int!, $after: String, $q: String) {{
  orders(first: $first, after: $after, query: $q, sortKey: UPDATED_AT) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {ORDER_FIELDS} customer {{ id }} }}
  }}
}}
"""
COUNT_QUERY = "query CalyCustomersCount { customersCount { count } }"
BULK_QUERY = f"""{{
  customers {{ edges {{ node {{ {CUSTOMER_FIELDS}
    orders {{ edges {{ node {{ {ORDER_FIELDS} }} }} }}
  }} }} }}
}}"""
BULK_RUN = """
mutation CalyBulkCustomers($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message }
  }
}
"""
BULK_POLL = """
query CalyBulkOperation($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url partialDataUrl } }
}
"""


class SyncFailed(Exception):
    """Shopify's export could not be read to the end; the message is safe to show."""


class BulkUnavailable(Exception):
    """The bulk operation cannot run for this app and shop: read pages instead."""


@dataclass
class CustomersSyncResult:
    ok: bool
    mode: str
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""


class _Writer:
    """Collects customers and orders and writes them a batch at a time, each under the connection's lock."""

    def __init__(self, connection: ShopifyConnection, started: datetime):
        self.connection = connection
        self.started = started
        self.customers: list[CustomerData] = []
        self.orders: list[OrderData] = []
        self.counts = {"customers": 0, "orders": 0, "created": 0, "updated": 0, "skipped": 0, "deleted": 0}
        self.newest: datetime | None = None

    def add_customer(self, customer: CustomerData) -> None:
        self.customers.append(customer)
        self._saw(customer.updated_at)
        if len(self.customers) >= BATCH_SIZE:
            self.flush()

    def add_order(self, order: OrderData) -> None:
        self.orders.append(order)
        self._saw(order.updated_at)
        if len(self.orders) >= BATCH_SIZE:
            self.flush()

    def _saw(self, updated_at: datetime | None) -> None:
        if updated_at is not None and updated_at <= self.started and (self.newest is None or updated_at > self.newest):
            self.newest = updated_at

    def flush(self) -> None:
        if not self.customers and not self.orders:
            return
        now = timezone.now()
        with transaction.atomic():
            lock_unchanged(self.connection)
            client = self.connection.client
            results = []
            if self.customers:  # customers first: the batch's orders find them
                results.append(customers.customers_upsert(client=client, customers=self.customers, synced_at=now))
            if self.orders:
                results.append(customers.orders_upsert(client=client, orders=self.orders, synced_at=now))
        self.counts["customers"] += len(self.customers)
        self.counts["orders"] += len(self.orders)
        for result in results:
            for name in ("created", "updated", "skipped"):
                self.counts[name] += getattr(result, name)
        self.customers, self.orders = [], []


@transaction.atomic
def customers_sync_begin(*, connection: ShopifyConnection, actor: User | None, source: str) -> datetime | None:
    """Mark a customers sync running (audited when a person asked); None when one is already running.
    The returned start time identifies the run: only the run that started then records its outcome."""
    locked = ShopifyConnection.objects.select_for_update().filter(pk=connection.pk).first()
    if locked is None:
        return None
    now = timezone.now()
    started = locked.customers_sync_started_at
    running = locked.customers_sync_status == SYNC_RUNNING and started is not None and started > now - STALE_AFTER
    if not running:
        ShopifyConnection.objects.filter(pk=locked.pk).update(
            customers_sync_status=SYNC_RUNNING, customers_sync_started_at=now, customers_sync_error=""
        )
        connection.customers_sync_started_at, connection.customers_sync_status = now, SYNC_RUNNING
    if actor is not None:
        audit_record(
            action=AuditAction.PRODUCT_SYNC_REQUESTED,
            client=locked.client,
            actor=actor,
            target=locked,
            metadata={"source": source, "queued": not running, "what": "customers and orders"},
        )
    return None if running else now


def customers_sync(*, connection: ShopifyConnection, started: datetime, mode: str) -> CustomersSyncResult:
    """Run the sync that customers_sync_begin marked running at `started`, and record how it ended.

    Shopify's refusals and unusable exports end in a failed result (recorded); anything unexpected is
    recorded as failed and raised, so the task shows it too.
    """
    if mode == INCREMENTAL and connection.customers_watermark is None:
        mode = FULL  # nothing to be incremental from
    writer = _Writer(connection, started)
    try:
        with shopify.ShopifyClient(connection) as api:
            watermark = connection.customers_watermark
            if mode == FULL or watermark is None:
                used = _full(api, connection, writer)
            else:
                _pages(api, writer, since=watermark - OVERLAP)
                used = "pages"
        writer.flush()
        if mode == FULL:
            writer.counts["deleted"] = _delete_unseen(connection, started)
    except (shopify.ShopifyError, PayloadError, SyncFailed, SyncAborted) as exc:
        message = str(exc) if not isinstance(exc, PayloadError) else f"Shopify sent an unusable customer: {exc}"
        logger.warning("Shopify customers sync of %s failed: %s", connection.shop_domain, message)
        customers_sync_finish(connection=connection, started=started, counts=writer.counts, error=message)
        return CustomersSyncResult(ok=False, mode=mode, counts=writer.counts, error=message)
    except Exception:
        logger.exception("Shopify customers sync of %s failed unexpectedly", connection.shop_domain)
        error = "An unexpected error stopped the sync."
        customers_sync_finish(connection=connection, started=started, counts=writer.counts, error=error)
        raise
    logger.info("Shopify customers sync (%s, %s) of %s finished: %s", mode, used, connection.shop_domain, writer.counts)
    customers_sync_finish(
        connection=connection,
        started=started,
        counts={**writer.counts, "bulk": int(used == "bulk")},
        full=mode == FULL,
        watermark=writer.newest or connection.customers_watermark,
    )
    return CustomersSyncResult(ok=True, mode=mode, counts=writer.counts)


def customers_sync_finish(
    *,
    connection: ShopifyConnection,
    started: datetime,
    counts: dict[str, int],
    error: str = "",
    full: bool = False,
    watermark: datetime | None = None,
) -> None:
    """Record how the run that started at `started` ended (a newer run's state is left alone)."""
    changes: dict[str, Any] = {
        "customers_sync_status": SYNC_FAILED if error else SYNC_OK,
        "customers_sync_counts": counts,
        "customers_sync_error": error[:2000],
        "bulk_operation_id": "",
    }
    if not error:
        # The watermark never passes the start: anything changed during the sync is read again next time.
        changes["customers_watermark"] = min(watermark, started) if watermark else started
        if full:
            changes["customers_synced_at"] = timezone.now()
    ShopifyConnection.objects.filter(pk=connection.pk, customers_sync_started_at=started).update(**changes)


def _full(api: shopify.ShopifyClient, connection: ShopifyConnection, writer: _Writer) -> str:
    data = api.query(COUNT_QUERY, cost=1)
    count = _obj(data.get("customersCount")).get("count")
    if isinstance(count, int) and count <= SMALL_STORE_CUSTOMERS:
        _pages(api, writer, since=None)
        return "pages"
    try:
        url = _bulk_export(api, connection)
    except BulkUnavailable as exc:
        logger.info("Shopify %s: no bulk operation (%s); reading pages", connection.shop_domain, exc)
        _pages(api, writer, since=None)
        return "pages"
    if url:
        for kind, item in jsonl_objects(url):
            if kind == "order":
                writer.add_order(item)  # type: ignore[arg-type]
            else:
                writer.add_customer(item)  # type: ignore[arg-type]
    return "bulk"


def _bulk_export(api: shopify.ShopifyClient, connection: ShopifyConnection) -> str | None:
    """Start the export (or resume polling the one this connection started), wait for it; its file's URL
    (None: the store has nothing to export)."""
    operation_id = connection.bulk_operation_id
    if not operation_id:
        data = api.query(BULK_RUN, {"query": BULK_QUERY}, cost=10)
        payload = _obj(data.get("bulkOperationRunQuery"))
        errors = [e for e in payload.get("userErrors") or [] if isinstance(e, dict)]
        operation = _obj(payload.get("bulkOperation"))
        if errors or not isinstance(operation.get("id"), str):
            message = "; ".join(str(e.get("message", ""))[:200] for e in errors[:3]) or "no operation started"
            raise BulkUnavailable(message)
        operation_id = operation["id"][:100]
        ShopifyConnection.objects.filter(pk=connection.pk).update(bulk_operation_id=operation_id)
    waited = 0.0
    polls = 0
    while True:
        data = api.query(BULK_POLL, {"id": operation_id}, cost=1)
        node = _obj(data.get("node"))
        status = str(node.get("status") or "").upper()
        if status == "COMPLETED":
            url = node.get("url")
            return url if isinstance(url, str) and url else None
        if status in ("FAILED", "CANCELED", "CANCELLED", "EXPIRED") or not node:
            ShopifyConnection.objects.filter(pk=connection.pk).update(bulk_operation_id="")
            raise SyncFailed(f"Shopify's bulk export ended {status.lower() or 'missing'} ({node.get('errorCode')}).")
        if waited >= BULK_MAX_WAIT_SECONDS:
            raise SyncFailed("Shopify's bulk export did not finish in time; the next sync waits for it again.")
        pause = BULK_POLL_SECONDS[min(polls, len(BULK_POLL_SECONDS) - 1)]
        polls += 1
        waited += pause
        shopify.sleep(pause)


def jsonl_objects(url: str) -> Iterator[tuple[str, CustomerData | OrderData]]:
    """The customers and orders of a bulk export's JSONL file, streamed: ("customer", …) or ("order", …).

    Raises SyncFailed for a file that cannot be read to the end: an address that is not Shopify's, an
    HTTP error, a line that is not a JSON object or is longer than MAX_LINE_BYTES, a body cut short.
    """
    _check_export_url(url)
    connect, read = settings.INTEGRATION_HTTP_TIMEOUT
    number = 0
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(read, connect=connect), follow_redirects=False) as http,
            http.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise SyncFailed(f"Shopify's bulk export file answered HTTP {response.status_code}.")
            for line in _lines(response.iter_bytes()):
                number += 1
                if line.strip():
                    yield _jsonl_item(line, number)
    except httpx.HTTPError as exc:
        raise SyncFailed(f"Shopify's bulk export file could not be read to the end ({type(exc).__name__}).") from None


def _jsonl_item(line: bytes, number: int) -> tuple[str, CustomerData | OrderData]:
    try:
        item = json.loads(line)
    except ValueError:
        raise SyncFailed(
            f"Line {number} of Shopify's bulk export is not JSON (the file is garbled or cut short)."
        ) from None
    if not isinstance(item, dict):
        raise SyncFailed(f"Line {number} of Shopify's bulk export is not an object.")
    try:
        parent = item.get("__parentId")
        if parent is not None:
            return "order", order_from_graphql(item, customer_shopify_id=shopify_id(parent))
        return "customer", customer_from_graphql(item)
    except PayloadError as exc:
        raise SyncFailed(f"Line {number} of Shopify's bulk export is unusable: {exc}") from None


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines of a byte stream, never holding more than one line (bounded) and one chunk."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if len(line) > MAX_LINE_BYTES:
                raise SyncFailed("A line of Shopify's bulk export is longer than any customer or order can be.")
            yield line
        if len(pending) > MAX_LINE_BYTES:
            raise SyncFailed("A line of Shopify's bulk export is longer than any customer or order can be.")
    if pending:
        yield pending


def _check_export_url(url: str) -> None:
    """Shopify's export lives at an https address (signed, on its storage); tests point at the fake."""
    override = settings.SHOPIFY_API_BASE_URL_OVERRIDE.rstrip("/")
    if override and url.startswith(override + "/"):
        return
    parsed = httpx.URL(url)
    if parsed.scheme != "https" or not parsed.host or parsed.host in ("localhost",) or parsed.host[0].isdigit():
        raise SyncFailed("Shopify's bulk export file is not at an https address Caly fetches from.")


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pages(api: shopify.ShopifyClient, writer: _Writer, *, since: datetime | None) -> None:
    """Every customer, then every order (those updated since `since`, when given), a page at a time."""
    for nodes in _each_page(api, CUSTOMERS_QUERY, "customers", CUSTOMERS_PER_PAGE, _since(since)):
        for node in nodes:
            writer.add_customer(customer_from_graphql(node))
        writer.flush()
    orders_floor = timezone.now() - timedelta(days=ORDERS_VISIBLE_DAYS)
    orders_since = max(since, orders_floor) if since is not None else None
    for nodes in _each_page(api, ORDERS_QUERY, "orders", ORDERS_PER_PAGE, _since(orders_since)):
        for node in nodes:
            writer.add_order(order_from_graphql(node))
        writer.flush()


def _since(moment: datetime | None) -> str | None:
    return f"updated_at:>='{moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}'" if moment else None


def _each_page(api: shopify.ShopifyClient, query: str, name: str, first: int, search: str | None) -> Iterator[list]:
    after: str | None = None
    cost = 3 + first * (CUSTOMER_NODE_COST if name == "customers" else ORDER_NODE_COST)
    while True:
        data = api.query(query, {"first": first, "after": after, "q": search}, cost=cost)
        nodes, has_next, cursor = connection_nodes(data.get(name))
        yield nodes
        if not has_next:
            return
        if cursor == after:
            raise shopify.ShopifyError("Shopify returned the same page twice.")
        after = cursor


def _delete_unseen(connection: ShopifyConnection, started: datetime) -> int:
    """After a complete full sync: customers no page or webhook touched since it started are gone from Shopify."""
    deleted = 0
    while True:
        with transaction.atomic():
            lock_unchanged(connection)
            removed = customers.customers_delete_unseen(client=connection.client, seen_since=started, limit=BATCH_SIZE)
        deleted += removed
        if removed < BATCH_SIZE:
            return deleted
