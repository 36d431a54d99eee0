"""Helpers for tests that run Caly in subprocesses, plus a test-only app (settings, urls).

Nothing here imports Django or pytest: gunicorn workers and `python -m tests.serving.probe`
import this package too.
"""

from __future__ import annotations

import secrets
import socket
import string
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
GUNICORN = str(VENV_BIN / "gunicorn")
TIMEOUT = 60  # seconds any one subprocess may take


def clean_env(home: Path, **variables: str) -> dict[str, str]:
    """An environment built from nothing: no DATABASE_URL, REDIS_URL… leaks in from the caller."""
    return {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),  # whatever a process writes under $HOME stays in the test's folder
        "LANG": "C.UTF-8",
        **variables,
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def random_secret_key(length: int = 60) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def production_env(tmp: Path, **overrides: str) -> dict[str, str]:
    """A complete, valid production environment whose files all live under `tmp`."""
    variables = {
        "DJANGO_SETTINGS_MODULE": "caly.settings.production",
        "SECRET_KEY": random_secret_key(),
        "ALLOWED_HOSTS": "caly.example.com",
        "SITE_URL": "https://caly.example.com",
        "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",  # checks do not connect; no page probed uses the cache
        "STORAGE_BACKEND": "local",
        "MEDIA_ROOT": str(tmp / "media"),
        "STATIC_ROOT": str(tmp / "static"),
        "EMAIL_URL": "smtp+tls://u:p@smtp.example.com:587",
        "FIELD_ENCRYPTION_KEYS": "bmV3LWtleS0zMi1ieXRlcy1vZi11cmwtc2FmZS1iNjQ=",
    }
    variables.update(overrides)
    return clean_env(tmp, **variables)
