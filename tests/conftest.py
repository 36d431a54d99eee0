"""Shared fixtures: two tenants (alice owns A, bob is a member of A, charlie owns B).

Under CI=true a skipped test fails the run (tests/ci_guard.py).
"""

import os
import time

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from accounts.roles import Role
from tests.factories import ClientFactory, StaffFactory, UserFactory

pytest_plugins = ["tests.ci_guard"]
CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    needs_postgres = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    needs_chromium = pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(needs_postgres)
        if "browser" in item.keywords and not os.path.exists(CHROMIUM):
            item.add_marker(needs_chromium)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and cached values never leak from one test into the next."""
    _clear_cache()
    yield
    _clear_cache()


def _clear_cache():
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")  # only this suite's prefixed keys, never the whole Redis db
    else:
        cache.clear()


@pytest.fixture
def client_a(db):
    return ClientFactory(name="Acme Apparel", slug="acme-apparel")


@pytest.fixture
def client_b(db):
    return ClientFactory(name="Bolt Books", slug="bolt-books")


@pytest.fixture
def alice(client_a):
    """Owner of client A."""
    return UserFactory(email="alice@acme.example", first_name="Alice", client=client_a, role=Role.OWNER)


@pytest.fixture
def bob(client_a):
    """Member (agent) of client A."""
    return UserFactory(email="bob@acme.example", first_name="Bob", client=client_a, role=Role.AGENT)


@pytest.fixture
def charlie(client_b):
    """Owner of client B: the outsider for every tenant-isolation test."""
    return UserFactory(email="charlie@bolt.example", first_name="Charlie", client=client_b, role=Role.OWNER)


@pytest.fixture
def staff(db):
    return StaffFactory(email="staff@caly.example", is_superuser=True)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def stopped_clock():
    """No rate-limit window ends half-way through the test: time stands still until it ends."""
    with time_machine.travel(time.time(), tick=False):
        yield


@pytest.fixture
def limits(settings):
    """limits(login_account="3/15m", …): these RATE_LIMITS for the test, the others as configured."""

    def set_limits(**rates: str) -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, **rates}

    return set_limits


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
