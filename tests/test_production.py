"""Production settings, run as deployed: in fresh processes with an environment built from nothing.

Every process here gets only PATH, HOME and the variables a test chooses (tests.serving.clean_env),
so a developer's DATABASE_URL or REDIS_URL never leaks in.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.serving import GUNICORN, PYTHON, ROOT, TIMEOUT, clean_env, free_port, production_env

pytestmark = pytest.mark.slow

SHORT_SECRET = "tooshort-secret-value"
ONE_YEAR = 31_536_000
HOST = "caly.example.com"
STAFF_EMAIL = "ops@caly.example.com"
STAFF_PASSWORD = "correct-horse-battery-staple-42"


def procfile_command(process: str) -> list[str]:
    """The Procfile's command for `process`, run with the project's virtualenv."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            words = command.split()
            return [PYTHON if words[0] == "python" else words[0], *words[1:]]
    raise AssertionError(f"Procfile has no {process}: line")


START_COMMANDS = {
    "check": [PYTHON, "manage.py", "check", "--deploy"],
    "web": procfile_command("web"),
    "worker": procfile_command("worker"),
    "gunicorn": [GUNICORN, "caly.wsgi"],
}


def run(command: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs
    )


def broken_env(tmp: Path, **variables: str) -> dict[str, str]:
    """Production with SECRET_KEY too short, ALLOWED_HOSTS missing and DATABASE_URL malformed."""
    return clean_env(
        tmp,
        DJANGO_SETTINGS_MODULE="caly.settings.production",
        SECRET_KEY=SHORT_SECRET,
        DATABASE_URL="mysql://x",
        # Should gunicorn start after all, it listens on loopback only.
        BIND_ADDRESS="127.0.0.1",
        PORT=str(free_port()),
        **variables,
    )


def listed_problems(stderr: str) -> set[str]:
    """Names the start-up message lists, each on its own line with an example value."""
    return set(re.findall(r"^  - ([A-Z][A-Z0-9_]+): .+ \(example: \1=\S.*\)$", stderr, re.M))


def assert_one_clean_start_up_message(result: subprocess.CompletedProcess, names: set[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 78, output
    assert result.stderr.count("Caly cannot start") == 1, result.stderr
    assert names <= listed_problems(result.stderr), result.stderr
    assert "Traceback" not in output
    assert SHORT_SECRET not in output  # secrets are never echoed
    assert "Booting worker" not in output  # gunicorn stopped before starting any worker


# "web" is `python -m caly.serve`: gunicorn itself runs int(WEB_CONCURRENCY) while importing its
# config module, before gunicorn.conf.py could validate, so the Procfile validates first.
@pytest.mark.parametrize("command", ["check", "web", "worker"])
def test_it_refuses_to_start_with_one_message_listing_every_env_problem(tmp_path, command):
    result = run(START_COMMANDS[command], broken_env(tmp_path, WEB_CONCURRENCY="abc"))

    assert_one_clean_start_up_message(
        result,
        {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "WEB_CONCURRENCY",
            "REDIS_URL",
            "EMAIL_URL",
            "FIELD_ENCRYPTION_KEYS",
        },
    )


def test_it_stops_the_gunicorn_master_with_one_message_before_any_worker_starts(tmp_path):
    # Plain `gunicorn caly.wsgi` (make serve's way in) still validates in gunicorn.conf.py, for
    # every variable gunicorn does not read itself (WEB_CONCURRENCY, see above).
    result = run(START_COMMANDS["gunicorn"], broken_env(tmp_path, GUNICORN_THREADS="abc"))

    assert_one_clean_start_up_message(
        result,
        {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DATABASE_URL",
            "GUNICORN_THREADS",
            "REDIS_URL",
            "EMAIL_URL",
            "FIELD_ENCRYPTION_KEYS",
        },
    )


def test_it_passes_the_deploy_checks_with_a_valid_production_env(tmp_path):
    result = run([PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A production environment after the build and release steps: collectstatic, migrate, one staff user."""
    tmp = tmp_path_factory.mktemp("deployed")
    env = production_env(tmp)
    for command in (
        [PYTHON, "manage.py", "collectstatic", "--noinput"],
        [PYTHON, "manage.py", "migrate", "--noinput"],
        [PYTHON, "manage.py", "createsuperuser", "--noinput", "--email", STAFF_EMAIL],
    ):
        result = run(command, {**env, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD})
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
    return env


def probe(env: dict[str, str], *requests: dict) -> list[dict]:
    """Send requests through Django's test client in a production process; see tests/serving/probe.py."""
    out = Path(env["HOME"]) / "probe.json"
    result = run([PYTHON, "-m", "tests.serving.probe", str(out)], env, input=json.dumps(requests))
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives = {}
    for part in policy.split(";"):
        if part.strip():
            name, *sources = part.split()
            directives[name] = sources
    return directives


def cookie_attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    pair, *attributes = (part.strip() for part in set_cookie.split(";"))
    name = pair.split("=", 1)[0]
    parsed = {}
    for attribute in attributes:
        key, _, value = attribute.partition("=")
        parsed[key.lower()] = value
    return name, parsed


def test_it_sends_the_security_headers_over_https(deployed):
    for response in probe(deployed, {"path": "/", "secure": True}, {"path": "/health/live", "secure": True}):
        headers = response["headers"]
        assert response["status"] == 200, response

        hsts = headers["Strict-Transport-Security"]
        assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= ONE_YEAR
        assert "includeSubDomains" in hsts

        csp = csp_directives(headers["Content-Security-Policy"])
        script_sources = csp.get("script-src", csp["default-src"])
        assert "'unsafe-inline'" not in script_sources
        assert "'unsafe-eval'" not in script_sources
        assert csp["frame-ancestors"] == ["'none'"]

        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] in {"strict-origin-when-cross-origin", "same-origin", "no-referrer"}
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        permissions = {item.strip() for item in headers["Permissions-Policy"].split(",")}
        assert {"camera=()", "microphone=()", "geolocation=()", "payment=()"} <= permissions


def test_it_redirects_plain_http_to_https_but_answers_health_probes(deployed):
    home, live = probe(deployed, {"path": "/", "secure": False}, {"path": "/health/live", "secure": False})

    assert home["status"] == 301
    assert home["headers"]["Location"] == f"https://{HOST}/"
    assert live["status"] == 200  # load balancers probe over plain HTTP inside the network


def test_it_sets_secure_host_only_cookies_in_production(deployed):
    login_form, login = probe(
        deployed,
        {"path": "/admin/login/", "secure": True},
        {
            "path": "/admin/login/?next=/admin/",
            "secure": True,
            "method": "post",
            "data": {"username": STAFF_EMAIL, "password": STAFF_PASSWORD, "next": "/admin/"},
        },
    )

    assert login_form["status"] == 200
    assert login["status"] == 302, "the staff login should succeed"
    cookies = dict(cookie_attributes(header) for header in login_form["set_cookie"] + login["set_cookie"])
    assert {"__Host-csrftoken", "__Host-sessionid"} <= cookies.keys()
    for name in ("__Host-csrftoken", "__Host-sessionid"):
        attributes = cookies[name]
        assert "secure" in attributes, name
        assert "httponly" in attributes, name
        assert attributes["samesite"].lower() in {"lax", "strict"}, name
        # The __Host- prefix is honoured by browsers only for Secure, Path=/ cookies without Domain.
        assert attributes["path"] == "/", name
        assert "domain" not in attributes, name


def test_it_serves_compressed_hashed_static_files_with_a_long_cache_life(deployed):
    (css,) = probe(deployed, {"static": "css/caly.css", "secure": True, "headers": {"Accept-Encoding": "gzip, br"}})

    assert re.fullmatch(r"/static/css/caly\.[0-9a-f]{12}\.css", css["path"]), css["path"]
    assert css["status"] == 200
    assert css["headers"]["Content-Encoding"] in {"gzip", "br"}
    assert css["body_length"] > 0
    max_age = int(re.search(r"max-age=(\d+)", css["headers"]["Cache-Control"]).group(1))
    assert max_age >= ONE_YEAR
