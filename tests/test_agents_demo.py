"""The demo data shows the agents' features: members with phone numbers, calls attributed to them (a few only
to a number nobody registered) and missed calls nobody has rung back."""

import pytest

from accounts.models import MemberPhone, User
from accounts.roles import Role
from recordings import selectors
from recordings.demo import UNREGISTERED_AGENT_NUMBER, agents_seed
from recordings.models import CALL_ANSWERED, CALL_MISSED, Call, MissedCall
from tests.test_seed_demo import demo_client, media, seed  # noqa: F401

pytestmark = pytest.mark.django_db


def test_demo_members_have_numbers_and_the_calls_are_theirs(media):  # noqa: F811
    out = seed("--calls", "300", "--no-audio", "--no-customers", "--products", "0")
    client = demo_client()

    takers = User.objects.for_client(client).filter(role__in=[Role.AGENT, Role.ADMIN, Role.OWNER])
    assert set(MemberPhone.objects.for_client(client).values_list("user", flat=True)) == set(
        takers.values_list("pk", flat=True)
    )
    calls = Call.objects.for_client(client)
    assert not calls.filter(agent_number="").exists()
    assert set(calls.exclude(agent=None).values_list("agent", flat=True)) == set(takers.values_list("pk", flat=True))
    unmatched = calls.filter(agent=None)
    assert 0 < unmatched.count() < calls.count() / 4
    assert set(unmatched.values_list("agent_number", flat=True)) == {UNREGISTERED_AGENT_NUMBER}
    for call in calls.exclude(agent=None).select_related("agent")[:20]:
        assert MemberPhone.objects.get(user=call.agent).number == call.agent_number
    assert "phone number(s) registered" in out


def test_some_demo_missed_calls_are_still_to_ring_back(media):  # noqa: F811
    seed("--calls", "300", "--no-audio", "--no-customers", "--products", "0")
    client = demo_client()
    rows = list(MissedCall.objects.for_client(client))

    assert rows and selectors.missed_call_count(client=client) == len(rows)
    for row in rows:  # each is a missed inbound call with no answered call with its number since
        assert Call.objects.filter(CALL_MISSED, pk=row.call_id).exists()
        later = Call.objects.for_client(client).filter(CALL_ANSWERED, started_at__gt=row.last_missed_at)
        assert not later.filter(from_number=row.number).exists() and not later.filter(to_number=row.number).exists()


def test_seeding_again_changes_nothing(media):  # noqa: F811
    seed("--calls", "120", "--no-audio", "--no-customers", "--products", "0")
    client = demo_client()
    before = list(Call.objects.for_client(client).order_by("pk").values_list("agent", "agent_number"))
    missed = list(MissedCall.objects.for_client(client).order_by("number").values_list("number", "attempts"))

    assert agents_seed(client=client)["registered"] == 0

    assert list(Call.objects.for_client(client).order_by("pk").values_list("agent", "agent_number")) == before
    assert list(MissedCall.objects.for_client(client).order_by("number").values_list("number", "attempts")) == missed
