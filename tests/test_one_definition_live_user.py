"""Who an access token still signs in is decided once: the raw-SQL lookup PostgreSQL runs on every API
request (accounts.authentication.live_user_by_sql) answers exactly as the ORM lookup other databases
run (live_user_by_orm), for every case the lookup tells apart.

The ORM path runs on both databases; the raw path on PostgreSQL, where both must give the same user,
with the same fields and client, in at most one query each.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import connection, router
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import jwt
from accounts.authentication import live_user, live_user_by_orm, live_user_by_sql
from accounts.models import RefreshFamily, User
from tests.factories import ClientFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> tuple[int, uuid.UUID, int]:
    """(user id, family id, token version), as an access token of a new sign-in of `user` carries them."""
    return user.pk, jwt.family_start(user=user).family_id, user.token_version


@pytest.fixture
def cases(alice, bob, charlie):
    """name -> ((user_id, family_id, version), the user the lookup must return or None)."""
    alice_token, bob_token = signed_in(alice), signed_in(bob)

    gone = UserFactory(email="gone@acme.example", client=alice.client)
    gone_token = signed_in(gone)
    User.objects.filter(pk=gone.pk).update(is_active=False)

    closed = UserFactory(email="owner@closed.example", client=ClientFactory(slug="closed"))
    closed_token = signed_in(closed)
    closed.client.is_active = False
    closed.client.save()

    staff = StaffFactory(email="staff@caly.example")
    revoked, expired = signed_in(alice), signed_in(alice)
    RefreshFamily.objects.filter(pk=revoked[1]).update(revoked_at=timezone.now(), revoked_reason="logout")
    RefreshFamily.objects.filter(pk=expired[1]).update(expires_at=timezone.now() - timedelta(seconds=1))
    user_id, family_id, version = alice_token
    return {
        "active user of an active client": (alice_token, alice),
        "another active user of that client": (bob_token, bob),
        "active user of another client": (signed_in(charlie), charlie),
        "older token version (password changed)": ((user_id, family_id, version - 1), None),
        "newer token version": ((user_id, family_id, version + 1), None),
        "inactive user": (gone_token, None),
        "user of an inactive client": (closed_token, None),
        "staff user without a client": (signed_in(staff), None),
        "revoked sign-in": (revoked, None),
        "expired sign-in": (expired, None),
        "another user's sign-in": ((user_id, bob_token[1], version), None),
        "unknown sign-in": ((user_id, uuid.uuid4(), version), None),
        "unknown user": ((User.objects.order_by("-pk").first().pk + 1, family_id, version), None),
    }


def snapshot(user: User | None) -> tuple[dict, dict] | None:
    """Every stored field of the user and of their client (read without another query)."""
    if user is None:
        return None
    fields = {field.attname: getattr(user, field.attname) for field in User._meta.concrete_fields}
    client = {field.attname: getattr(user.client, field.attname) for field in type(user.client)._meta.concrete_fields}
    return fields, client


def lookup(function, token, **alias):
    """The snapshot of what `function` returns; at most one query (none when the ORM knows it cannot match)."""
    user_id, family_id, version = token
    with CaptureQueriesContext(connection) as queries:
        found = snapshot(function(**alias, user_id=user_id, family_id=family_id, version=version))
    assert len(queries) <= 1, queries.captured_queries
    return found


def test_the_orm_lookup_tells_every_case_apart(cases):
    for name, (token, expected) in cases.items():
        found = lookup(live_user_by_orm, token)
        assert found == snapshot(expected and User.objects.select_related("client").get(pk=expected.pk)), name
        assert lookup(live_user, token) == found, name


@pytest.mark.postgres
def test_the_raw_sql_lookup_answers_as_the_orm_lookup(cases):
    alias = router.db_for_read(User)
    for name, (token, expected) in cases.items():
        by_orm = lookup(live_user_by_orm, token)
        by_sql = lookup(live_user_by_sql, token, alias=alias)
        assert by_sql == by_orm, name
        assert (by_sql is None) == (expected is None), name
