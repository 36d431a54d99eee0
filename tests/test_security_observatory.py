"""Security headers under the production settings, graded with the Mozilla (MDN) HTTP Observatory's rules.

A production process (caly.settings.production, a complete environment from tests.serving) answers
four kinds of page: the home page, the login page (with the cookies of a real sign-in), an
authenticated API response and the API docs. Each must carry every header the hardening issue
names, and `observatory_score()` — the Observatory's ten tests and modifiers, ported from
mdn/mdn-http-observatory (src/scanner/index.js, src/analyzer/tests/*.js, src/grader/charts.js;
shared/reference/performance-and-security-notes.md §7) — must give it an A+ (100 or more).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from tests.serving import PYTHON, ROOT, TIMEOUT, production_env

pytestmark = pytest.mark.slow

HOST = "caly.example.com"
ONE_YEAR = 31_536_000
OWNER_EMAIL = "owner@observatory.example"
OWNER_PASSWORD = "granite-orchard-velvet-58"
SIX_MONTHS = 15_552_000  # the Observatory's own (generous) six months

# The Observatory's score modifiers, by outcome (src/grader/charts.js).
MODIFIERS = {
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "cookies-secure-with-httponly-sessions-and-samesite": 5,
    "cookies-secure-with-httponly-sessions": 0,
    "cookies-not-found": 0,
    "cookies-without-secure-flag": -20,
    "cookies-samesite-flag-invalid": -20,
    "cookies-anticsrf-without-samesite-flag": -20,
    "cookies-session-without-httponly-flag": -30,
    "cookies-session-without-secure-flag": -40,
    "cross-origin-resource-sharing-not-implemented": 0,
    "cross-origin-resource-sharing-implemented-with-public-access": 0,
    "cross-origin-resource-sharing-implemented-with-restricted-access": 0,
    "cross-origin-resource-sharing-implemented-with-universal-access": -50,
    "redirection-to-https": 0,
    "redirection-off-host-from-http": -5,
    "redirection-missing": -20,
    "redirection-not-to-https": -20,
    "referrer-policy-private": 5,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "sri-implemented-and-all-scripts-loaded-securely": 5,
    "sri-not-implemented-response-not-html": 0,
    "sri-not-implemented-but-no-scripts-loaded": 0,
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": 0,
    "sri-not-implemented-but-external-scripts-loaded-securely": -5,
    "sri-not-implemented-and-external-scripts-not-loaded-securely": -50,
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
    "cross-origin-resource-policy-not-implemented": 0,
    "cross-origin-resource-policy-implemented-with-same-origin": 10,
    "cross-origin-resource-policy-implemented-with-same-site": 10,
    "cross-origin-resource-policy-implemented-with-cross-origin": 0,
    "cross-origin-resource-policy-header-invalid": -5,
}
MINIMUM_SCORE_FOR_EXTRA_CREDIT = 90
BROAD = {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
UNSAFE_INLINE = {"'unsafe-inline'", "data:"}


@dataclass
class Scan:
    """What the Observatory looks at: the HTTPS answer, its body, its cookies, and the plain-HTTP answer."""

    headers: dict[str, str]
    body: str
    set_cookies: list[str]
    http_status: int
    http_location: str


def parse_csp(policy: str) -> dict[str, set[str]]:
    directives: dict[str, set[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words and words[0].lower() not in directives:  # the first of a repeated directive wins
            directives[words[0].lower()] = {source.lower() for source in words[1:]}
    return directives


def csp_outcome(headers: dict[str, str]) -> str:
    if "Content-Security-Policy" not in headers:
        return "csp-not-implemented"
    csp = parse_csp(headers["Content-Security-Policy"])
    default = csp.get("default-src")
    script = csp.get("script-src", default) or {"*"}
    style = csp.get("style-src", default) or {"*"}
    objects = csp.get("object-src", default) or {"*"}
    active = [source for name, sources in csp.items() if name not in ("img-src", "media-src") for source in sources]
    passive = [source for name in ("img-src", "media-src") for source in csp.get(name, default or set())]
    if script & (BROAD | UNSAFE_INLINE) or objects & BROAD:
        return "csp-implemented-with-unsafe-inline"
    if any(source.startswith(("http:", "ftp:")) for source in active):
        return "csp-implemented-with-insecure-scheme"
    if "'unsafe-eval'" in script | style:
        return "csp-implemented-with-unsafe-eval"
    if any(source.startswith(("http:", "ftp:")) for source in passive):
        return "csp-implemented-with-insecure-scheme-in-passive-content-only"
    if style & (BROAD | UNSAFE_INLINE):
        return "csp-implemented-with-unsafe-inline-in-style-src-only"
    if default == {"'none'"}:
        return "csp-implemented-with-no-unsafe-default-src-none"
    return "csp-implemented-with-no-unsafe"


# Worst first, as src/analyzer/tests/cookies.js ranks them.
COOKIE_BADNESS = [
    "cookies-session-without-secure-flag",
    "cookies-session-without-httponly-flag",
    "cookies-anticsrf-without-samesite-flag",
    "cookies-samesite-flag-invalid",
    "cookies-without-secure-flag",
]


def cookie_outcome(set_cookies: list[str]) -> str:
    if not set_cookies:
        return "cookies-not-found"
    found, missing_samesite = set(), False
    for header in set_cookies:
        name = header.split("=", 1)[0].strip().lower()
        attributes = {
            part.split("=", 1)[0].strip().lower(): part.partition("=")[2].strip().lower()
            for part in header.split(";")[1:]
        }
        secure, httponly, samesite = "secure" in attributes, "httponly" in attributes, attributes.get("samesite")
        session, anticsrf = any(word in name for word in ("login", "sess")), "csrf" in name
        if (samesite is not None and samesite not in ("lax", "strict", "none")) or (samesite == "none" and not secure):
            found.add("cookies-samesite-flag-invalid")
        if not secure:
            found.add("cookies-session-without-secure-flag" if session else "cookies-without-secure-flag")
        if anticsrf and not samesite:
            found.add("cookies-anticsrf-without-samesite-flag")
        if session and not httponly:
            found.add("cookies-session-without-httponly-flag")
        missing_samesite |= not samesite
    for outcome in COOKIE_BADNESS:
        if outcome in found:
            return outcome
    if missing_samesite:
        return "cookies-secure-with-httponly-sessions"
    return "cookies-secure-with-httponly-sessions-and-samesite"


def observatory_results(scan: Scan) -> dict[str, str]:
    headers = scan.headers
    results = {"content-security-policy": csp_outcome(headers), "cookies": cookie_outcome(scan.set_cookies)}

    origin, credentials = headers.get("Access-Control-Allow-Origin"), headers.get("Access-Control-Allow-Credentials")
    if origin is None:
        results["cors"] = "cross-origin-resource-sharing-not-implemented"
    elif origin == "*" or (credentials or "").lower() == "true":
        results["cors"] = (
            "cross-origin-resource-sharing-implemented-with-universal-access"
            if (credentials or "").lower() == "true"
            else "cross-origin-resource-sharing-implemented-with-public-access"
        )
    else:
        results["cors"] = "cross-origin-resource-sharing-implemented-with-restricted-access"

    if scan.http_status in (301, 302, 307, 308):
        if scan.http_location.startswith(f"https://{HOST}/"):
            results["redirection"] = "redirection-to-https"
        elif scan.http_location.startswith("https://"):
            results["redirection"] = "redirection-off-host-from-http"
        else:
            results["redirection"] = "redirection-not-to-https"
    else:
        results["redirection"] = "redirection-missing"

    policy = (headers.get("Referrer-Policy") or "").split(",")[-1].strip().lower()
    if not policy:
        results["referrer-policy"] = "referrer-policy-not-implemented"
    elif policy in ("no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"):
        results["referrer-policy"] = "referrer-policy-private"
    elif policy in ("origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"):
        results["referrer-policy"] = "referrer-policy-unsafe"
    else:
        results["referrer-policy"] = "referrer-policy-header-invalid"

    hsts = headers.get("Strict-Transport-Security")
    match = re.search(r"max-age=(\d+)", hsts or "", re.I)
    if hsts is None:
        results["hsts"] = "hsts-not-implemented"
    elif not match or "," in hsts:
        results["hsts"] = "hsts-header-invalid"
    else:
        at_least = int(match.group(1)) >= SIX_MONTHS
        results["hsts"] = f"hsts-implemented-max-age-{'at-least' if at_least else 'less-than'}-six-months"

    results["sri"] = sri_outcome(headers, scan.body)

    nosniff = headers.get("X-Content-Type-Options")
    results["x-content-type-options"] = (
        "x-content-type-options-not-implemented"
        if nosniff is None
        else "x-content-type-options-nosniff"
        if nosniff.strip().lower() == "nosniff"
        else "x-content-type-options-header-invalid"
    )

    frame = (headers.get("X-Frame-Options") or "").strip().lower()
    if "frame-ancestors" in parse_csp(headers.get("Content-Security-Policy", "")):
        results["x-frame-options"] = "x-frame-options-implemented-via-csp"
    elif frame in ("deny", "sameorigin"):
        results["x-frame-options"] = "x-frame-options-sameorigin-or-deny"
    else:
        results["x-frame-options"] = "x-frame-options-header-invalid" if frame else "x-frame-options-not-implemented"

    corp = (headers.get("Cross-Origin-Resource-Policy") or "").strip().lower()
    results["corp"] = {
        "": "cross-origin-resource-policy-not-implemented",
        "same-origin": "cross-origin-resource-policy-implemented-with-same-origin",
        "same-site": "cross-origin-resource-policy-implemented-with-same-site",
        "cross-origin": "cross-origin-resource-policy-implemented-with-cross-origin",
    }.get(corp, "cross-origin-resource-policy-header-invalid")
    return results


def sri_outcome(headers: dict[str, str], body: str) -> str:
    if headers.get("Content-Type", "").split(";")[0].strip() not in ("text/html", "application/xhtml+xml"):
        return "sri-not-implemented-response-not-html"
    scripts = re.findall(r"<script\b([^>]*)>", body, re.I)
    if not scripts:
        return "sri-not-implemented-but-no-scripts-loaded"
    foreign = [s for s in scripts if re.search(r"""\bsrc=["']?(https?:)?//""", s, re.I)]
    if any(not re.search(r"\bintegrity=", s) for s in foreign):
        secure = all(re.search(r"""\bsrc=["']?https://""", s, re.I) for s in foreign)
        return (
            "sri-not-implemented-but-external-scripts-loaded-securely"
            if secure
            else "sri-not-implemented-and-external-scripts-not-loaded-securely"
        )
    if scripts and all(re.search(r"\bintegrity=", s) for s in scripts):
        return "sri-implemented-and-all-scripts-loaded-securely"
    return "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"


def observatory_score(scan: Scan) -> int:
    """100, plus every modifier if the penalties alone leave 90 or more (src/scanner/index.js)."""
    modifiers = [MODIFIERS[outcome] for outcome in observatory_results(scan).values()]
    uncurved = 100 + sum(modifier for modifier in modifiers if modifier < 0)
    return 100 + sum(modifiers) if uncurved >= MINIMUM_SCORE_FOR_EXTRA_CREDIT else uncurved


# --- the rules themselves, on made-up answers ----------------------------------------------------


def _scan(**headers) -> Scan:
    base = {"Content-Type": "text/html; charset=utf-8"}
    return Scan({**base, **headers}, "<html></html>", [], 301, f"https://{HOST}/")


def test_the_rules_give_a_bare_site_an_f_and_a_strict_api_the_maximum_less_what_needs_https_preload():
    bare = _scan()
    assert observatory_score(bare) == 100 - 25 - 20 - 20 - 5  # no CSP, HSTS, XFO, nosniff: 30
    strict = _scan(
        **{
            "Content-Type": "application/json",
            "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
            "Strict-Transport-Security": f"max-age={ONE_YEAR}; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cross-Origin-Resource-Policy": "same-origin",
        }
    )
    assert observatory_score(strict) == 100 + 10 + 5 + 5 + 10


@pytest.mark.parametrize(
    ("policy", "outcome"),
    [
        ("default-src 'self'; script-src 'self' 'unsafe-inline'", "csp-implemented-with-unsafe-inline"),
        ("default-src 'self'; script-src 'self' 'unsafe-eval'", "csp-implemented-with-unsafe-eval"),
        (
            "default-src 'self'; style-src 'self' 'unsafe-inline'",
            "csp-implemented-with-unsafe-inline-in-style-src-only",
        ),
        ("default-src 'self'; object-src *", "csp-implemented-with-unsafe-inline"),
        ("default-src 'self'; script-src http://cdn.example", "csp-implemented-with-insecure-scheme"),
        ("default-src 'self'", "csp-implemented-with-no-unsafe"),
        ("default-src 'none'", "csp-implemented-with-no-unsafe-default-src-none"),
    ],
)
def test_the_csp_rule_ranks_policies_as_the_observatory_does(policy, outcome):
    assert csp_outcome({"Content-Security-Policy": policy}) == outcome


@pytest.mark.parametrize(
    ("cookies", "outcome"),
    [
        (["sessionid=x; Path=/"], "cookies-session-without-secure-flag"),
        (["sessionid=x; Secure; Path=/"], "cookies-session-without-httponly-flag"),
        (["csrftoken=x; Secure; Path=/"], "cookies-anticsrf-without-samesite-flag"),
        (["sessionid=x; Secure; HttpOnly"], "cookies-secure-with-httponly-sessions"),
        (["sessionid=x; Secure; HttpOnly; SameSite=Lax"], "cookies-secure-with-httponly-sessions-and-samesite"),
    ],
)
def test_the_cookie_rule_ranks_cookies_as_the_observatory_does(cookies, outcome):
    assert cookie_outcome(cookies) == outcome


def test_bonuses_count_only_when_the_penalties_leave_an_a():
    no_hsts = _scan(
        **{
            "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
    )
    assert observatory_score(no_hsts) == 80  # 100 - 20; the +20 of bonuses is not granted


# --- Caly under production settings --------------------------------------------------------------


def run(command: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs
    )


CREATE_OWNER = f"""
from accounts import jwt, services
from accounts.models import User
owner = services.client_register(company_name="Observatory Test", email="{OWNER_EMAIL}",
    password="{OWNER_PASSWORD}", first_name="O", last_name="T", timezone_name="Asia/Kolkata")
User.objects.filter(pk=owner.pk).update(email_verified_at=owner.date_joined)
print(jwt.family_start(user=owner).access)
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """A production environment after collectstatic and migrate, with a client owner and an API token."""
    tmp = tmp_path_factory.mktemp("observatory")
    # Signing in counts attempts in Redis, as production does: the run's own Redis database if it has one.
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    env = production_env(tmp, ALLOWED_HOSTS=HOST, SITE_URL=f"https://{HOST}", REDIS_URL=redis)
    for command in (
        [PYTHON, "manage.py", "collectstatic", "--noinput"],
        [PYTHON, "manage.py", "migrate", "--noinput"],
    ):
        result = run(command, env)
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    result = run([PYTHON, "manage.py", "shell", "-c", CREATE_OWNER], env)
    assert result.returncode == 0, result.stdout + result.stderr
    return env, result.stdout.strip().splitlines()[-1]


def probe(env: dict[str, str], *requests: dict) -> list[dict]:
    out = Path(env["HOME"]) / "probe.json"
    result = run([PYTHON, "-m", "tests.serving.probe", str(out)], env, input=json.dumps(requests))
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def scan(env: dict[str, str], path: str, *, headers: dict | None = None, login: bool = False) -> Scan:
    """The HTTPS answer to `path` with its body, the cookies a visit (and, for `login`, signing in) sets,
    and the plain-HTTP answer to the same path."""
    requests = [
        {"path": path, "secure": True, "headers": headers or {}, "body": True},
        {"path": path, "secure": False, "headers": headers or {}},
    ]
    if login:
        requests.append(
            {
                "path": path,
                "secure": True,
                "method": "post",
                "data": {"email": OWNER_EMAIL, "password": OWNER_PASSWORD},
            }
        )
    answers = probe(env, *requests)
    https, http = answers[0], answers[1]
    assert https["status"] == 200, https
    if login:
        assert answers[2]["status"] == 302, "the sign-in should succeed and set the session cookie"
    set_cookies = [cookie for answer in answers[:1] + answers[2:] for cookie in answer["set_cookie"]]
    return Scan(
        https["headers"], https.get("body", ""), set_cookies, http["status"], http["headers"].get("Location", "")
    )


PAGES = {
    "home": {"path": "/"},
    "login": {"path": "/accounts/login/", "login": True},
    "api": {"path": "/api/v1/me"},
    "docs": {"path": "/api/docs/"},
}


@pytest.fixture(scope="module")
def scans(production):
    env, token = production
    found = {}
    for name, spec in PAGES.items():
        headers = {"Authorization": f"Bearer {token}"} if name == "api" else {}
        found[name] = scan(env, spec["path"], headers=headers, login=spec.get("login", False))
    return found


@pytest.mark.parametrize("page", PAGES)
def test_every_page_kind_gets_an_a_plus(scans, page):
    result = scans[page]
    score = observatory_score(result)
    assert score >= 100, (page, score, observatory_results(result))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_kind_sends_all_the_security_headers(scans, page):
    headers = scans[page].headers
    hsts = headers["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= ONE_YEAR and "includeSubDomains" in hsts
    csp = parse_csp(headers["Content-Security-Policy"])
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts and not scripts & {"'unsafe-inline'", "'unsafe-eval'", "data:", "*"}, csp
    assert csp["frame-ancestors"] == {"'none'"}
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in {"strict-origin-when-cross-origin", "same-origin", "no-referrer"}
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = {item.strip() for item in headers["Permissions-Policy"].split(",")}
    assert {"camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"} <= permissions
    assert "Access-Control-Allow-Origin" not in headers


def test_only_the_docs_relax_styles_and_never_scripts(scans):
    for page in ("home", "login", "api"):
        csp = parse_csp(scans[page].headers["Content-Security-Policy"])
        assert "'unsafe-inline'" not in csp.get("style-src", csp.get("default-src")), page
    docs = parse_csp(scans["docs"].headers["Content-Security-Policy"])
    assert "'unsafe-inline'" in docs["style-src"] and docs["script-src"] == {"'self'"}
    api = parse_csp(scans["api"].headers["Content-Security-Policy"])
    assert api == {"default-src": {"'none'"}, "frame-ancestors": {"'none'"}}


def test_the_sign_in_cookies_are_secure_http_only_and_same_site(scans):
    cookies = {}
    for header in scans["login"].set_cookies:
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            cookies[name] = morsel
    assert {"__Host-sessionid", "__Host-csrftoken"} <= cookies.keys()
    for name in ("__Host-sessionid", "__Host-csrftoken"):
        morsel = cookies[name]
        assert morsel["secure"] and morsel["httponly"], name
        assert morsel["samesite"].lower() in ("lax", "strict"), name
        assert morsel["path"] == "/" and not morsel["domain"], name
    assert cookie_outcome(scans["login"].set_cookies) == "cookies-secure-with-httponly-sessions-and-samesite"


def test_plain_http_is_redirected_to_https_on_the_same_host(scans):
    for page, result in scans.items():
        assert result.http_status == 301 and result.http_location.startswith(f"https://{HOST}/"), page
