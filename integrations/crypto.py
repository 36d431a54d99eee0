"""Secrets of integrations, encrypted at rest with MultiFernet.

FIELD_ENCRYPTION_KEYS lists Fernet keys: the first encrypts, every one decrypts. A key is rotated in
four deploys so that no process ever meets a secret it cannot read (docs/operations.md, "Rotating
keys"): add the new key second, then put it first, then `manage.py rotate_encryption_keys`, then drop
the old key. The command refuses to run while a process seen lately lacks the key it writes with: every
process that reads or writes a secret announces its keys' ids in the shared cache (`keyrings_seen`).

A secret no configured key decrypts loads as an `UnreadableSecret`: the row still loads (pages and the
API show the secret as set), saving the row keeps the stored token, and only using the secret raises
DecryptionError, a SERVICE_UNAVAILABLE domain error (503, never 500). /health/detailed counts them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.db import models
from django.db.models.functions import Cast

from caly.foundation import health
from caly.foundation.errors import DomainError, ErrorCode

logger = logging.getLogger("caly.integrations.crypto")

# How long a process's announced keys count as live, and how often a process announces them again.
KEYRING_TTL_SECONDS = 600
KEYRING_ANNOUNCE_EVERY_SECONDS = 60
_KEYRINGS = "integrations:keyrings"


class DecryptionError(DomainError):
    """A stored secret cannot be read with any configured key."""

    def __init__(self, message: str = "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS."):
        super().__init__(ErrorCode.SERVICE_UNAVAILABLE, message, retry_after=60)


class UnreadableSecret(str):
    """A stored secret this process has no key for. Truthy (the secret is set) but unusable: encoding or
    formatting it raises DecryptionError, so it never reaches a provider, a signature or a comparison."""

    __slots__ = ("token",)
    token: str

    def __new__(cls, token: str) -> UnreadableSecret:
        secret = super().__new__(cls, "\x00unreadable secret")
        secret.token = token
        return secret

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        raise DecryptionError("A credential stored for this connection cannot be read with this server's keys.")

    def __format__(self, spec: str) -> str:
        raise DecryptionError("A credential stored for this connection cannot be read with this server's keys.")


def key_id(key: str) -> str:
    """A short, public name for a Fernet key: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@lru_cache(maxsize=4)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    fernets = [Fernet(key.encode()) for key in keys]
    return MultiFernet(fernets), fernets[0]


def _current() -> tuple[MultiFernet, Fernet]:
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    _announce(keys)
    return _fernets(keys)


def encrypt(plaintext: str) -> str:
    return _current()[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plain text of a token, tried with every configured key; raises DecryptionError."""
    try:
        return _current()[0].decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError() from None


def is_current(token: str) -> bool:
    """Whether the first (encrypting) key wrote this token."""
    try:
        _current()[1].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """The same secret, encrypted with the first key."""
    try:
        return _current()[0].rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError() from None


def last4(secret: str) -> str:
    """What the API and pages may show of a secret: its last four characters, and only of a long one."""
    if isinstance(secret, UnreadableSecret):
        return ""
    return secret[-4:] if len(secret) >= 12 else ""


class EncryptedTextField(models.TextField):
    """A text field whose value is a Fernet token in the database and plain text in Python.

    The empty string means "not set" and is stored as is. Lookups other than isnull/exact-empty
    make no sense on ciphertext; nothing filters on these fields.
    """

    description = "Text encrypted at rest (Fernet)"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return decrypt(value)
        except DecryptionError:
            return UnreadableSecret(value)

    def get_prep_value(self, value):
        if isinstance(value, UnreadableSecret):
            return value.token  # saving the row keeps the secret as stored
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "integrations.crypto.EncryptedTextField", args, kwargs


# --- which keys the running processes have --------------------------------------------------------

_announced: dict[tuple[str, ...], float] = {}
_announce_lock = threading.Lock()


def _announce(keys: tuple[str, ...]) -> None:
    """At most once a minute per process: announce_keyring."""
    now = time.monotonic()
    with _announce_lock:
        if now - _announced.get(keys, -KEYRING_ANNOUNCE_EVERY_SECONDS) < KEYRING_ANNOUNCE_EVERY_SECONDS:
            return
        _announced[keys] = now
    announce_keyring()


def announce_keyring() -> None:
    """Tell the shared cache which keys this process has (their ids only, first the encrypting one)."""
    ids = [key_id(key) for key in settings.FIELD_ENCRYPTION_KEYS]
    cache = caches["default"]
    now = time.time()
    try:
        seen = cache.get(_KEYRINGS) or {}
        seen = {name: entry for name, entry in seen.items() if entry["seen_at"] > now - KEYRING_TTL_SECONDS}
        seen[",".join(ids)] = {"key_ids": ids, "seen_at": now, "process": f"{socket.gethostname()}:{os.getpid()}"}
        cache.set(_KEYRINGS, seen, timeout=KEYRING_TTL_SECONDS)
    except Exception:  # the announcement must never fail a request
        logger.warning("Could not announce this process's encryption keys to the cache", exc_info=True)


def keyrings_seen() -> list[dict[str, Any]]:
    """Each set of keys some process used in the last KEYRING_TTL_SECONDS, oldest first: key_ids (the
    first encrypts), seen_at (epoch seconds) and one process that had it (host:pid). This process's own
    is among them."""
    announce_keyring()
    seen = caches["default"].get(_KEYRINGS) or {}
    fresh = [entry for entry in seen.values() if entry["seen_at"] > time.time() - KEYRING_TTL_SECONDS]
    return sorted(fresh, key=lambda entry: entry["seen_at"])


# --- secrets no configured key decrypts -------------------------------------------------------------


def _encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    found = []
    for model in apps.get_models():
        names = [field.name for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def unreadable_secrets(limit: int = 20) -> dict[str, Any]:
    """Stored secrets that no key of FIELD_ENCRYPTION_KEYS decrypts: how many, and the first `limit`."""
    multi = _current()[0]
    count, examples = 0, []
    for model, names in _encrypted_fields():
        raw = {f"raw_{name}": Cast(name, output_field=models.TextField()) for name in names}
        for row in model._default_manager.annotate(**raw).values("pk", *raw).iterator():
            for name in names:
                token = row[f"raw_{name}"]
                if not token:
                    continue
                try:
                    multi.decrypt(token.encode())
                except InvalidToken:
                    count += 1
                    if len(examples) < limit:
                        examples.append({"model": model._meta.label_lower, "pk": row["pk"], "field": name})
    return {"count": count, "examples": examples}


def secrets_report() -> dict[str, Any]:
    """/health/detailed's "secrets": this process's key ids and the secrets none of them decrypts."""
    unreadable = unreadable_secrets()
    return {
        "status": "ok" if unreadable["count"] == 0 else "failing",
        "key_ids": [key_id(key) for key in settings.FIELD_ENCRYPTION_KEYS],
        "unreadable": unreadable["count"],
        "unreadable_examples": unreadable["examples"],
    }


health.DETAILED_REPORTS["secrets"] = secrets_report
