"""An access token works only while its user, client and sign-in are live (the check on every API request)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import jwt
from accounts.models import RefreshFamily, User

pytestmark = pytest.mark.django_db


def me(api, access):
    return api.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}")


def test_a_live_token_loads_the_user_and_client_in_one_query(api, alice):
    pair = jwt.family_start(user=alice)
    with CaptureQueriesContext(connection) as queries:
        response = me(api, pair.access)
    assert response.status_code == 200 and response.json()["data"]["email"] == alice.email
    auth = [q["sql"] for q in queries if "refreshfamily" in q["sql"]]
    assert len(auth) == 1 and "accounts_client" in auth[0]


@pytest.mark.parametrize(
    "change",
    [
        lambda user, family: RefreshFamily.objects.filter(pk=family).update(revoked_at=timezone.now()),
        lambda user, family: RefreshFamily.objects.filter(pk=family).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        ),
        lambda user, family: User.objects.filter(pk=user.pk).update(token_version=user.token_version + 1),
        lambda user, family: User.objects.filter(pk=user.pk).update(is_active=False),
        lambda user, family: type(user.client).objects.filter(pk=user.client_id).update(is_active=False),
        lambda user, family: RefreshFamily.objects.filter(pk=family).update(user=User.objects.exclude(pk=user.pk)[0]),
    ],
    ids=["revoked", "expired", "token-version", "user-inactive", "client-inactive", "another-users-family"],
)
def test_a_token_stops_working_at_once(api, alice, bob, change):
    pair = jwt.family_start(user=alice)
    assert me(api, pair.access).status_code == 200

    change(alice, pair.family_id)

    response = me(api, pair.access)
    assert response.status_code == 401 and response.json()["error"]["code"] == "TOKEN_INVALID"
