"""A fake Shopify GraphQL Admin API on 127.0.0.1 (pytest-httpserver), and a fake clock for its waits.

It answers what integrations.shopify asks: the shop's name and myshopify domain, `products` pages
(cursor pagination, sorted by id), a product's further variants and whether a product exists
(`product(id:)` answers null for one it does not have), each with `extensions.cost` like Shopify's.
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
import json
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


def _requested_cost(query: str, variables: dict) -> int:
    """Shopify's rule: an object costs 1, a connection 2 + first × (its node), scalars nothing."""
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
