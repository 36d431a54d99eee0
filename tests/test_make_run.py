"""`make run` serves where HOST and PORT say, and the links it prints and e-mails follow unless SITE_URL is set.

Read from `make -n` (what make would run), so nothing is installed or served here.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
# A developer's own .env may set SITE_URL, which `make run` then keeps (as it should).
SITE_URL_IN_DOTENV = (ROOT / ".env").is_file() and "SITE_URL=" in (ROOT / ".env").read_text()


def dry_run(*args: str, **env: str) -> str:
    environ = {name: value for name, value in os.environ.items() if name != "SITE_URL"} | env
    result = subprocess.run(
        ["make", "-n", "-s", "-C", str(ROOT), "-o", "migrate", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=30,
        check=True,
    )
    return result.stdout


@pytest.mark.skipif(SITE_URL_IN_DOTENV, reason="this checkout's .env sets SITE_URL")
def test_it_serves_on_8000_by_default_and_links_follow():
    out = dry_run("run")

    assert "runserver 127.0.0.1:8000" in out
    assert "SITE_URL=http://127.0.0.1:8000" in out


@pytest.mark.skipif(SITE_URL_IN_DOTENV, reason="this checkout's .env sets SITE_URL")
def test_host_and_port_move_the_server_and_the_links():
    out = dry_run("run", "HOST=0.0.0.0", "PORT=8001")

    assert "runserver 0.0.0.0:8001" in out
    assert "SITE_URL=http://0.0.0.0:8001 .venv/bin/python manage.py seed_demo" in out


def test_an_explicit_site_url_wins(tmp_path):
    out = dry_run("run", "PORT=8001", SITE_URL="https://calls.example.com")

    assert "runserver 127.0.0.1:8001" in out
    assert "http://127.0.0.1:8001" not in out and "SITE_URL=https://calls.example.com" in out


def test_make_run_installs_only_what_running_needs():
    out = dry_run("-B", ".venv/.installed-run")

    assert "-r requirements.txt" in out and "requirements-dev.txt" not in out
