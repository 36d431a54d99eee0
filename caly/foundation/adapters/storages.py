"""django-storages (1.14): a boto3 session with an S3Storage's own credentials.

The readiness probe (caly/foundation/health.py) needs an S3 client of its own, with short timeouts,
that signs in exactly as the storage does. S3Storage makes its sessions in the private
`_create_session()` (access key, secret, session token, or a named profile), used only here.

tests/test_library_adapters.py checks that a session from it carries the storage's credentials.
"""

from __future__ import annotations

import boto3


def s3_session(storage) -> boto3.session.Session:
    """A new boto3 session with the credentials of `storage` (a django-storages S3Storage)."""
    return storage._create_session()
