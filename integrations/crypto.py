"""Secrets of integrations, encrypted at rest with MultiFernet.

FIELD_ENCRYPTION_KEYS lists Fernet keys: the first encrypts, every one decrypts, so a new key can
be put first and `manage.py rotate_encryption_keys` re-encrypts what the old ones wrote.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class DecryptionError(Exception):
    """A stored secret cannot be read with any configured key."""


@lru_cache(maxsize=4)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    fernets = [Fernet(key.encode()) for key in keys]
    return MultiFernet(fernets), fernets[0]


def _current() -> tuple[MultiFernet, Fernet]:
    return _fernets(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current()[0].encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current()[0].decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS.") from None


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
        raise DecryptionError("A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS.") from None


def last4(secret: str) -> str:
    """What the API and pages may show of a secret: its last four characters, and only of a long one."""
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
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "integrations.crypto.EncryptedTextField", args, kwargs
