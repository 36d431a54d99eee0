"""`manage.py purge_refresh_families`: deletes sign-ins that ended long ago, never live ones."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts import jwt
from accounts.models import RefreshFamily

pytestmark = pytest.mark.django_db


@pytest.fixture
def families(alice, bob):
    """One sign-in in each state, named by it."""
    now = timezone.now()
    states = {
        "expired_long_ago": {"expires_at": now - timedelta(days=3)},
        "revoked_long_ago": {"revoked_at": now - timedelta(days=2), "revoked_reason": "logout"},
        "expired_recently": {"expires_at": now - timedelta(hours=2)},
        "revoked_recently": {"revoked_at": now - timedelta(hours=1), "revoked_reason": "logout"},
        "live": {},
    }
    ids = {}
    for index, (name, fields) in enumerate(states.items()):
        ids[name] = jwt.family_start(user=(alice, bob)[index % 2]).family_id
        RefreshFamily.objects.filter(pk=ids[name]).update(**fields)
    return ids


def purge(*args) -> str:
    out = StringIO()
    call_command("purge_refresh_families", *args, stdout=out)
    return out.getvalue()


def remaining(families) -> set[str]:
    left = set(RefreshFamily.objects.values_list("pk", flat=True))
    return {name for name, pk in families.items() if pk in left}


def test_it_counts_on_a_dry_run_then_deletes_only_sign_ins_that_ended_over_a_day_ago(families):
    output = purge("--dry-run")

    assert "2 sign-in(s)" in output and "nothing was deleted" in output
    assert remaining(families) == set(families)

    output = purge()

    assert "Deleted 2 sign-in(s)" in output
    assert remaining(families) == {"expired_recently", "revoked_recently", "live"}
    assert "0 sign-in(s)" in purge("--dry-run")


def test_it_keeps_ended_sign_ins_for_the_days_asked(families):
    assert "Deleted 1 sign-in(s)" in purge("--older-than-days", "3")  # the one expired 3 days ago (and a bit)
    assert remaining(families) == {"revoked_long_ago", "expired_recently", "revoked_recently", "live"}

    assert "3 sign-in(s)" in purge("--older-than-days", "0", "--dry-run")
    assert "Deleted 3 sign-in(s)" in purge("--older-than-days", "0")
    assert remaining(families) == {"live"}


def test_it_refuses_a_negative_number_of_days(families):
    with pytest.raises(CommandError, match="0 or more"):
        purge("--older-than-days", "-1")
    assert remaining(families) == set(families)
