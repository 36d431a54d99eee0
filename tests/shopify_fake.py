"""A fake Shopify GraphQL Admin API on 127.0.0.1 (pytest-httpserver), and a fake clock for its waits.

It answers what integrations.shopify asks: the shop's name and myshopify domain, `products` pages
(cursor pagination, sorted by id), a product's further variants and whether a product exists
(`product(id:)` answers null for one it does not have), each with `extensions.cost` like Shopify's.
Customers and orders: `customersCount`, `customers` and `orders` pages (sorted by updatedAt, with the
`updated_at:>='…'` filter), `customer(id:)`, and bulk operations: `bulkOperationRunQuery` starts one,
`node(id:)` polls it (RUNNING for `bulk_polls` polls, then COMPLETED with a URL), and the JSONL file is
served over HTTP by the fake itself, streamed (customers, each followed, or preceded with
`bulk_children_first`, by its orders carrying `__parentId`), or broken on demand (`bulk_file` =
"truncated": cut inside a line; "short": fewer bytes than its Content-Length; "garbled": a line that is
not JSON). `generate(customers=, orders_per_customer=)` makes a large store without holding it.
Webhook subscriptions: `webhookSubscriptionCreate`, `webhookSubscriptionDelete` and the
`webhookSubscriptions` list, kept in `subscriptions`.
It prices every query as Shopify does (a connection costs 2 + first × its node) and refuses one over
1,000 points; it refuses an access token it does not know (401, as after an uninstall), and on
demand fails with any status or answers THROTTLED with a bucket the test chooses. `other_shops`
maps further tokens to the shop each one belongs to (a token of another shop works, for that shop).

    with shopify_fake.serve(settings) as shopify:   # points SHOPIFY_API_BASE_URL_OVERRIDE at it
        shopify.add_products(600, variants=2)
        shopify.throttle_next(available=50, restore_rate=100)
"""

from __future__ import annotations

import atexit
import base64
import itertools
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

API_VERSION = "2026-04"
SHOP_DOMAIN = "acme-apparel.myshopify.com"
ACCESS_TOKEN = "shpat_fake_token_for_tests_7d1c2b"
WEBHOOK_SECRET = "whsec_fake_secret_for_tests_9a8b"
UPDATED_AT = "2026-01-10T09:30:00Z"
MAX_QUERY_COST = 1000

_server: HTTPServer | None = None


def _shared_server() -> HTTPServer:
    global _server
    if _server is None:
        _server = HTTPServer(host="127.0.0.1", port=0)
        _server.start()
        atexit.register(_server.stop)
    return _server


@contextmanager
def serve(settings) -> Iterator[FakeShopify]:
    server = _shared_server()
    server.clear()
    fake = FakeShopify(server)
    settings.SHOPIFY_API_BASE_URL_OVERRIDE = fake.url
    try:
        yield fake
    finally:
        server.clear()


def product_node(shopify_id: int, *, variants: int = 2, **fields) -> dict:
    """A product as the fake keeps it (GraphQL field names; variants as a plain list)."""
    node = {
        "id": shopify_id,
        "title": f"Product {shopify_id:05d}",
        "handle": f"product-{shopify_id}",
        "status": "ACTIVE",
        "vendor": "Acme Mills",
        "productType": "Shirt",
        "tags": ["cotton", "summer"],
        "description": f"Plain text about product {shopify_id}.",
        "updatedAt": UPDATED_AT,
        "mediaCount": 2,
        "variants": [variant_node(shopify_id, n) for n in range(variants)],
    }
    node.update(fields)
    return node


def variant_node(product_id: int, n: int, **fields) -> dict:
    variant = {
        "id": product_id * 1000 + n,
        "sku": f"SKU-{product_id}-{n}",
        "title": ["S", "M", "L", "XL"][n % 4] + (f" / {n // 4}" if n >= 4 else ""),
        "price": "499.00",
        "compareAtPrice": None,
        "inventoryQuantity": 7,
        "barcode": f"89000000{product_id:05d}",
    }
    variant.update(fields)
    return variant


def customer_node(shopify_id: int, **fields) -> dict:
    """A customer as the fake keeps it (GraphQL field names; an Indian mobile number of its own)."""
    node = {
        "id": shopify_id,
        "firstName": f"Customer{shopify_id}",
        "lastName": "Sharma",
        "defaultEmailAddress": {"emailAddress": f"customer{shopify_id}@example.com"},
        "defaultPhoneNumber": {"phoneNumber": f"+9198{shopify_id:08d}"},
        "defaultAddress": {"phone": None},
        "tags": ["repeat"],
        "numberOfOrders": "0",
        "amountSpent": {"amount": "0.00", "currencyCode": "INR"},
        "createdAt": UPDATED_AT,
        "updatedAt": UPDATED_AT,
    }
    node.update(fields)
    return node


def order_node(shopify_id: int, *, customer: int | None, **fields) -> dict:
    node = {
        "id": shopify_id,
        "customer": customer,
        "name": f"#{shopify_id}",
        "processedAt": UPDATED_AT,
        "createdAt": UPDATED_AT,
        "updatedAt": UPDATED_AT,
        "cancelledAt": None,
        "closedAt": None,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "UNFULFILLED",
        "totalPriceSet": {"shopMoney": {"amount": "1499.00", "currencyCode": "INR"}},
        "subtotalLineItemsQuantity": 2,
        "phone": None,
        "billingAddress": {"phone": None},
        "shippingAddress": {"phone": None},
    }
    node.update(fields)
    return node


class FakeShopify:
    def __init__(self, server: HTTPServer, *, token: str = ACCESS_TOKEN):
        self.server = server
        self.token = token
        self.shop_name = "Acme Apparel"
        self.shop_domain = SHOP_DOMAIN
        self.other_shops: dict[str, str] = {}
        self.products: dict[int, dict] = {}
        self.requests: list[dict] = []
        self.scripted: list[Callable[[dict], Response] | None] = []
        self.bucket = {"maximumAvailable": 2000.0, "currentlyAvailable": 1980.0, "restoreRate": 100.0}
        self.customers: dict[int, dict] = {}
        self.orders: dict[int, dict] = {}
        self.generated: tuple[int, int] | None = None  # (customers, orders per customer), made on the fly
        self.bulk_operations: dict[str, dict] = {}
        self.bulk_polls = 1  # polls answered RUNNING before COMPLETED
        self.bulk_error: str | None = None  # a userError for bulkOperationRunQuery
        self.bulk_outcome = "COMPLETED"
        self.bulk_file = "ok"  # ok, truncated, short, garbled
        self.bulk_children_first = False
        self.subscriptions: dict[str, dict] = {}
        self.subscription_error: str | None = None
        server.expect_request(re.compile(r"^/bulk/[0-9]+\.jsonl$"), method="GET").respond_with_handler(self._bulk_file)
        server.expect_request(f"/admin/api/{API_VERSION}/graphql.json", method="POST").respond_with_handler(
            self._handle
        )

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    # --- the catalogue ---------------------------------------------------------------------------

    def add_products(self, count: int, *, start: int = 1, variants: int = 2, **fields) -> list[int]:
        ids = list(range(start, start + count))
        for shopify_id in ids:
            self.products[shopify_id] = product_node(shopify_id, variants=variants, **fields)
        return ids

    def page_requests(self) -> list[dict]:
        return [r for r in self.requests if "products(" in r["query"]]

    # --- customers and orders ------------------------------------------------------------------

    def add_customers(self, count: int, *, start: int = 1, orders: int = 0, **fields) -> list[int]:
        """Customers start, start+1, …, each with `orders` orders (ids customer × 100 + n)."""
        ids = list(range(start, start + count))
        for shopify_id in ids:
            self.customers[shopify_id] = customer_node(shopify_id, **fields)
            for n in range(orders):
                self.add_order(shopify_id * 100 + n, customer=shopify_id)
        return ids

    def add_order(self, shopify_id: int, *, customer: int | None, **fields) -> dict:
        self.orders[shopify_id] = order_node(shopify_id, customer=customer, **fields)
        return self.orders[shopify_id]

    def generate(self, *, customers: int, orders_per_customer: int) -> None:
        """A large store made on the fly (for benchmarks): only the count and the bulk file are served."""
        self.generated = (customers, orders_per_customer)

    def customer_count(self) -> int:
        return self.generated[0] if self.generated else len(self.customers)

    def bulk_lines(self) -> Iterator[bytes]:
        """The JSONL of a customers-with-orders export, one line at a time."""
        for person, orders in self._people():
            parent = _customer_graphql(person)
            children = [
                json.dumps({**_order_graphql(o, with_customer=False), "__parentId": parent["id"]}).encode()
                for o in orders
            ]
            lines = [json.dumps(parent).encode(), *children]
            if self.bulk_children_first:
                lines = [*children, lines[0]]
            for line in lines:
                yield line + b"\n"

    def _people(self) -> Iterator[tuple[dict, list[dict]]]:
        if self.generated:
            count, per = self.generated
            for i in range(1, count + 1):
                yield customer_node(i), [order_node(i * 100 + n, customer=i) for n in range(per)]
            return
        by_customer: dict[int, list[dict]] = {}
        for node in self.orders.values():
            if node["customer"] is not None:
                by_customer.setdefault(node["customer"], []).append(node)
        for i in sorted(self.customers):
            yield self.customers[i], by_customer.get(i, [])

    def page_requests_of(self, name: str) -> list[dict]:
        return [r for r in self.requests if f"{name}(" in r["query"]]

    # --- scripted trouble ------------------------------------------------------------------------

    def pass_next(self, times: int = 1) -> None:
        """Answer the next requests normally (so scripted trouble comes later, mid-sync)."""
        self.scripted.extend([None] * times)

    def fail_next(self, status: int, *, times: int = 1, headers: dict | None = None, body: str = "") -> None:
        for _ in range(times):
            self.scripted.append(lambda request: Response(body or "{}", status=status, headers=headers))

    def throttle_next(self, *, available: float, restore_rate: float = 100.0, times: int = 1) -> None:
        """Answer THROTTLED, as Shopify does when the bucket holds less than the query's requested cost."""

        def throttled(request: dict) -> Response:
            bucket = {**self.bucket, "currentlyAvailable": available, "restoreRate": restore_rate}
            errors = [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
            return _json({"errors": errors, "extensions": _cost(request["cost"], None, bucket)})

        self.scripted.extend([throttled] * times)

    # --- the server ------------------------------------------------------------------------------

    def _handle(self, http_request: Request) -> Response:
        body = json.loads(http_request.get_data())
        query, variables = body["query"], body.get("variables") or {}
        request = {
            "query": query,
            "variables": variables,
            "token": http_request.headers.get("X-Shopify-Access-Token"),
            "cost": _requested_cost(query, variables),
        }
        self.requests.append(request)
        scripted = self.scripted.pop(0) if self.scripted else None
        if scripted is not None:  # an outage answers before any token is looked at
            return scripted(request)
        shops = {self.token: self.shop_domain, **self.other_shops}
        if request["token"] not in shops:
            return _json(
                {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, 401
            )
        if request["cost"] > MAX_QUERY_COST:
            errors = [{"message": "Query cost is too high.", "extensions": {"code": "MAX_COST_EXCEEDED"}}]
            return _json({"errors": errors, "extensions": _cost(request["cost"], None, self.bucket)})
        if "shop {" in query:
            data = {"shop": {"name": self.shop_name, "myshopifyDomain": shops[request["token"]]}}
        elif "bulkOperationRunQuery" in query:
            data = {"bulkOperationRunQuery": self._bulk_run(variables)}
        elif "BulkOperation" in query:
            data = {"node": self._bulk_poll(variables)}
        elif "webhookSubscriptionCreate" in query:
            data = {"webhookSubscriptionCreate": self._subscribe(variables)}
        elif "webhookSubscriptionDelete" in query:
            data = {"webhookSubscriptionDelete": self._unsubscribe(variables)}
        elif "webhookSubscriptions(" in query:
            nodes = [{"id": gid, **sub} for gid, sub in self.subscriptions.items()]
            data = {"webhookSubscriptions": {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}}
        elif "customersCount" in query:
            data = {"customersCount": {"count": self.customer_count(), "precision": "EXACT"}}
        elif "customers(" in query:
            data = {"customers": self._updated_page(self.customers, variables, _customer_graphql)}
        elif "orders(" in query:
            data = {"orders": self._updated_page(self.orders, variables, _order_graphql)}
        elif "customer(id:" in query:
            customer_id = int(variables["id"].rsplit("/", 1)[1])
            data = {"customer": {"id": variables["id"]} if customer_id in self.customers else None}
        elif "products(" in query:
            data = {"products": self._products_page(variables)}
        elif "product(id:" in query and "variants(" in query:
            data = {"product": self._more_variants(variables)}
        elif "product(id:" in query:
            product_id = int(variables["id"].rsplit("/", 1)[1])
            data = {"product": {"id": variables["id"]} if product_id in self.products else None}
        else:
            return _json({"errors": [{"message": "The fake does not know this query."}]})
        return _json({"data": data, "extensions": _cost(request["cost"], max(1, request["cost"] // 10), self.bucket)})

    def _updated_page(self, objects: dict[int, dict], variables: dict, shape: Callable[[dict], dict]) -> dict:
        """A page sorted by (updatedAt, id), filtered by `updated_at:>='…'` as Shopify's search syntax says."""
        since = None
        match = re.search(r"updated_at:>='([^']+)'", variables.get("q") or "")
        if match:
            since = match.group(1)
        after = _decode(variables.get("after"))
        ordered = sorted(objects.values(), key=lambda node: (node["updatedAt"], node["id"]))
        if since is not None:
            ordered = [node for node in ordered if _instant(node["updatedAt"]) >= _instant(since)]
        start = after or 0
        page = ordered[start : start + variables["first"]]
        end = start + len(page)
        info = {"hasNextPage": end < len(ordered), "endCursor": _encode(end) if page else None}
        return {"nodes": [shape(node) for node in page], "pageInfo": info}

    def _bulk_run(self, variables: dict) -> dict:
        if self.bulk_error:
            return {"bulkOperation": None, "userErrors": [{"field": None, "message": self.bulk_error}]}
        assert "customers" in variables["query"] and "__parentId" not in variables["query"]
        gid = f"gid://shopify/BulkOperation/{len(self.bulk_operations) + 1}"
        self.bulk_operations[gid] = {"polls": 0, "query": variables["query"]}
        return {"bulkOperation": {"id": gid, "status": "CREATED"}, "userErrors": []}

    def _bulk_poll(self, variables: dict) -> dict | None:
        operation = self.bulk_operations.get(variables["id"])
        if operation is None:
            return None
        operation["polls"] += 1
        if operation["polls"] <= self.bulk_polls:
            return {"id": variables["id"], "status": "RUNNING", "errorCode": None, "url": None}
        if self.bulk_outcome != "COMPLETED":
            return {"id": variables["id"], "status": self.bulk_outcome, "errorCode": "INTERNAL_SERVER_ERROR"}
        number = variables["id"].rsplit("/", 1)[1]
        url = f"{self.url}/bulk/{number}.jsonl" if self.customer_count() else None
        return {"id": variables["id"], "status": "COMPLETED", "errorCode": None, "url": url, "partialDataUrl": None}

    def _bulk_file(self, http_request: Request) -> Response:
        lines = self.bulk_lines()
        if self.bulk_file == "garbled":
            lines = itertools.chain(
                itertools.islice(lines, 3), [b'{"id": "gid://shopify/Customer/9", "firstN\n'], lines
            )
        if self.bulk_file == "truncated":
            whole = b"".join(lines)
            return Response(whole[: len(whole) - 7], content_type="application/jsonl")
        if self.bulk_file == "short":
            whole = b"".join(lines)
            headers = {"Content-Length": str(len(whole) + 500)}
            return Response(iter([whole]), headers=headers, content_type="application/jsonl", direct_passthrough=True)
        return Response(lines, content_type="application/jsonl", direct_passthrough=True)

    def _subscribe(self, variables: dict) -> dict:
        address = variables["webhookSubscription"]
        topic, uri = variables["topic"], address.get("uri") or address.get("callbackUrl")
        if self.subscription_error:
            return {"webhookSubscription": None, "userErrors": [{"field": ["uri"], "message": self.subscription_error}]}
        if any(sub["topic"] == topic and sub["uri"] == uri for sub in self.subscriptions.values()):
            errors = [
                {
                    "field": ["webhookSubscription", "callbackUrl"],
                    "message": "Address for this topic has already been taken",
                }
            ]
            return {"webhookSubscription": None, "userErrors": errors}
        gid = f"gid://shopify/WebhookSubscription/{1000 + len(self.subscriptions) + len(self.requests)}"
        self.subscriptions[gid] = {"topic": topic, "uri": uri}
        return {"webhookSubscription": {"id": gid, "topic": topic}, "userErrors": []}

    def _unsubscribe(self, variables: dict) -> dict:
        if self.subscriptions.pop(variables["id"], None) is None:
            errors = [{"field": ["id"], "message": "Webhook subscription does not exist"}]
            return {"deletedWebhookSubscriptionId": None, "userErrors": errors}
        return {"deletedWebhookSubscriptionId": variables["id"], "userErrors": []}

    def _products_page(self, variables: dict) -> dict:
        after = _decode(variables.get("after"))
        ids = sorted(i for i in self.products if after is None or i > after)
        page = ids[: variables["first"]]
        nodes = [self._graphql(self.products[i], variables["variants"]) for i in page]
        has_next = len(ids) > len(page)
        return {"nodes": nodes, "pageInfo": {"hasNextPage": has_next, "endCursor": _encode(page[-1]) if page else None}}

    def _more_variants(self, variables: dict) -> dict | None:
        product_id = int(variables["id"].rsplit("/", 1)[1])
        product = self.products.get(product_id)
        if product is None:
            return None
        start = _decode(variables.get("after")) or 0
        variants = product["variants"][start : start + variables["first"]]
        end = start + len(variants)
        return {"variants": _connection(variants, end < len(product["variants"]), end)}

    @staticmethod
    def _graphql(product: dict, variants: int) -> dict:
        node = {key: value for key, value in product.items() if key not in ("id", "variants", "mediaCount")}
        node["id"] = f"gid://shopify/Product/{product['id']}"
        node["legacyResourceId"] = str(product["id"])
        node["mediaCount"] = {"count": product["mediaCount"], "precision": "EXACT"}
        first = product["variants"][:variants]
        node["variants"] = _connection(first, len(product["variants"]) > variants, len(first))
        return node


def _connection(variants: list[dict], has_next: bool, end: int) -> dict:
    nodes = [{**v, "id": f"gid://shopify/ProductVariant/{v['id']}", "legacyResourceId": str(v["id"])} for v in variants]
    return {"nodes": nodes, "pageInfo": {"hasNextPage": has_next, "endCursor": _encode(end) if nodes else None}}


def _customer_graphql(node: dict) -> dict:
    return {**node, "id": f"gid://shopify/Customer/{node['id']}", "legacyResourceId": str(node["id"])}


def _order_graphql(node: dict, *, with_customer: bool = True) -> dict:
    shaped = {key: value for key, value in node.items() if key != "customer"}
    shaped.update(id=f"gid://shopify/Order/{node['id']}", legacyResourceId=str(node["id"]))
    if with_customer:
        shaped["customer"] = {"id": f"gid://shopify/Customer/{node['customer']}"} if node["customer"] else None
    return shaped


def _instant(value: str) -> str:
    """updatedAt values compare as text once they share one form (UTC, seconds, Z)."""
    return value.replace("+00:00", "Z")


def _requested_cost(query: str, variables: dict) -> int:
    """Shopify's rule: an object costs 1, a connection 2 + first × (its node), scalars nothing."""
    if "customers(" in query:
        return 3 + variables["first"] * 5
    if "orders(" in query:
        return 3 + variables["first"] * 6
    if "products(" in query:
        return 3 + variables["first"] * (5 + variables["variants"])
    if "product(id:" in query and "variants(" in query:
        return 4 + variables["first"]
    return 1


def _cost(requested: int, actual: int | None, bucket: dict) -> dict:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": dict(bucket)}}


def _json(payload, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _encode(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"last_id": position}).encode()).decode()


def _decode(cursor: str | None) -> int | None:
    return json.loads(base64.urlsafe_b64decode(cursor))["last_id"] if cursor else None


class FakeClock:
    """Stands in for the client's `monotonic` and `sleep`: waiting advances time and is recorded."""

    def __init__(self):
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def install(self, monkeypatch) -> FakeClock:
        from integrations.shopify import client

        monkeypatch.setattr(client, "monotonic", self.monotonic)
        monkeypatch.setattr(client, "sleep", self.sleep)
        return self
