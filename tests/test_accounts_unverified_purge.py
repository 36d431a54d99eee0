"""Squatted sign-ups: an address registered by someone who cannot verify it is purged with its empty
company once the verification link has expired (plus a grace period), and never blocks an invitation."""

import json
import logging
import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from accounts import jwt, services, signups
from accounts.models import AuditAction, AuditEvent, Client, User
from accounts.roles import Role
from accounts.tasks import purge_unverified_signups
from caly.foundation.models import ScheduledJob
from caly.foundation.ops import scheduler
from integrations.models import ShopifyConnection
from tests.factories import PASSWORD, CallFactory, UserFactory

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "a-strong-pass-phrase-9"


def squat(email: str, *, days_ago: float = 0, company: str = "Squat Co") -> User:
    """Sign up with an address one does not own (the sign-up never gets verified)."""
    with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
        services.client_register(company_name=company, email=email, password=STRONG_PASSWORD)
    mail.outbox.clear()
    return User.objects.select_related("client").get(email=email)


def purge() -> dict:
    return purge_unverified_signups.enqueue().return_value


def gone(user: User) -> bool:
    return not User.objects.filter(pk=user.pk).exists() and not Client.objects.filter(pk=user.client_id).exists()


def test_it_purges_an_unverified_sign_up_and_its_company_after_the_link_lifetime_and_grace(alice, caplog):
    old = squat("victim@example.com", days_ago=9)  # link: 24 hours, grace: 7 days
    young = squat("newcomer@example.com", days_ago=1, company="Newcomer")
    old_client_id = old.client_id
    caplog.set_level(logging.INFO, logger="accounts.services")

    assert purge() == {"purged": 1, "kept": 0}

    assert gone(old)
    assert not AuditEvent.objects.filter(client_id=old_client_id).exists()
    assert User.objects.filter(pk=young.pk).exists() and User.objects.filter(pk=alice.pk).exists()
    assert Client.objects.filter(pk=alice.client_id).exists()
    assert "Purged 1 unverified sign-up(s) and their companies; kept 0" in caplog.text


def test_it_is_idempotent(settings):
    squat("victim@example.com", days_ago=30)

    assert purge() == {"purged": 1, "kept": 0}
    assert purge() == {"purged": 0, "kept": 0}


def test_it_waits_for_the_link_lifetime_plus_the_grace_period(settings):
    window = settings.EMAIL_VERIFICATION_MAX_AGE + signups.UNVERIFIED_SIGNUP_GRACE
    recent = squat("victim@example.com", days_ago=(window - timedelta(minutes=5)) / timedelta(days=1))

    assert purge() == {"purged": 0, "kept": 0}
    assert User.objects.filter(pk=recent.pk).exists()


def test_it_never_purges_a_verified_account_or_staff(alice, staff):
    for user in (alice, staff):
        User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=90))
    User.objects.filter(pk=staff.pk).update(email_verified_at=None)

    assert purge() == {"purged": 0, "kept": 0}
    assert User.objects.filter(pk__in=[alice.pk, staff.pk]).count() == 2


@pytest.mark.parametrize("holding", ["another user", "a call", "a connection"])
def test_it_keeps_an_unverified_owner_whose_company_holds_anything_else(holding):
    owner = squat("victim@example.com", days_ago=30)
    if holding == "another user":
        UserFactory(email="colleague@example.com", client=owner.client, role=Role.AGENT)
    elif holding == "a call":
        CallFactory(client=owner.client)
    else:
        ShopifyConnection.objects.create(
            client=owner.client, shop_domain="victim.myshopify.com", access_token="shpat_x"
        )

    assert purge() == {"purged": 0, "kept": 1}
    assert User.objects.filter(pk=owner.pk).exists() and Client.objects.filter(pk=owner.client_id).exists()


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_queues_the_purge_daily_and_the_worker_runs_it(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    old = squat("victim@example.com", days_ago=30)
    [job] = [job for job in scheduler.declared_jobs() if job.name == "purge-unverified-signups"]
    scheduler.run_due([job])
    ScheduledJob.objects.update(next_run_at=datetime(2026, 1, 1, tzinfo=UTC))

    scheduler.run_due([job])
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0, stdout=StringIO())

    assert gone(old)


# --- invitations supersede an unverified sign-up -----------------------------------------------


def invite(api, inviter, email, role="agent"):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.family_start(user=inviter).access}")
    response = api.post("/api/v1/team/invitations", {"email": email, "role": role}, format="json")
    api.credentials()
    return response


def test_an_invitation_to_a_squatted_address_supersedes_the_unverified_sign_up(api, alice):
    squatted = squat("dana@example.com")  # minutes ago: long before any purge

    assert invite(api, alice, "dana@example.com").status_code == 201
    [message] = mail.outbox
    token = re.search(r"/accounts/invitations/([^/\s]+)/", message.body).group(1)
    response = api.post(
        "/api/v1/auth/invitations/accept", {"token": token, "password": "joining-pass-phrase-3"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert json.loads(response.content)["data"]["user"]["client"]["slug"] == "acme-apparel"
    dana = User.objects.get(email="dana@example.com")
    assert (dana.client, dana.role, dana.email_verified) == (alice.client, Role.AGENT, True)
    assert dana.check_password("joining-pass-phrase-3") and not dana.check_password(STRONG_PASSWORD)
    assert not Client.objects.filter(pk=squatted.client_id).exists()
    joined = AuditEvent.objects.get(action=AuditAction.USER_JOINED)
    assert joined.client == alice.client and joined.metadata["replaced_unverified_signup"] is True


def test_the_invitation_page_supersedes_a_squatted_sign_up_too(client, alice):
    squat("dana@example.com")
    client.force_login(alice)
    client.post("/accounts/team/", {"email": "dana@example.com", "role": Role.VIEWER})
    client.logout()
    invitation_path = re.search(r"(/accounts/invitations/[^/\s]+/)", mail.outbox[0].body).group(1)

    response = client.post(
        invitation_path, {"new_password1": "joining-pass-phrase-3", "new_password2": "joining-pass-phrase-3"}
    )

    assert response.status_code == 302
    assert User.objects.get(email="dana@example.com").client == alice.client
    assert Client.objects.count() == 1


def test_an_unverified_user_of_a_real_company_is_not_superseded(api, alice, charlie):
    member = UserFactory(email="dana@example.com", client=charlie.client, role=Role.AGENT, email_verified_at=None)

    assert invite(api, alice, member.email).status_code == 201

    [message] = mail.outbox
    assert "/accounts/invitations/" not in message.body
    assert "already belongs to a Caly account of another company" in message.body
    member.refresh_from_db()
    assert member.client == charlie.client


def test_the_real_owner_of_a_squatted_address_can_take_it_over_with_a_password_reset(client):
    squat("dana@example.com")

    client.post("/accounts/signup/", {"company_name": "Dana's", "email": "dana@example.com", "password": PASSWORD})
    [attempt] = mail.outbox
    assert attempt.to == ["dana@example.com"] and "/accounts/password/reset/" in attempt.body
    client.post("/accounts/password/reset/", {"email": "dana@example.com"})
    reset_path = re.search(r"(/accounts/password/reset/[^/\s?]+/)", mail.outbox[-1].body).group(1)
    client.post(reset_path, {"new_password1": "dana-own-pass-phrase-1", "new_password2": "dana-own-pass-phrase-1"})

    response = client.post("/accounts/login/", {"email": "dana@example.com", "password": "dana-own-pass-phrase-1"})
    assert response.status_code == 302
    assert User.objects.get(email="dana@example.com").email_verified


def test_the_command_purges_the_same_way_for_cron(alice):
    old = squat("cron-squat@victim.example", days_ago=30)
    out = StringIO()

    call_command("purge_unverified_signups", stdout=out)

    assert gone(old) and "Purged 1 unverified sign-up(s)" in out.getvalue()
    call_command("purge_unverified_signups", stdout=out)
    assert "Purged 0 unverified sign-up(s)" in out.getvalue()


def test_it_never_purges_a_company_staff_set_up_by_hand(client, staff):
    """A user added in the admin has no verified address yet, but did not sign up: not a squat."""
    with time_machine.travel(timezone.now() - timedelta(days=30), tick=False):
        company = Client.objects.create(name="Set Up By Staff", slug="set-up-by-staff")
        person = UserFactory(
            client=company, email="new-hire@staff-made.example", role=Role.OWNER, email_verified_at=None
        )

    assert purge() == {"purged": 0, "kept": 0}
    assert User.objects.filter(pk=person.pk).exists() and Client.objects.filter(pk=company.pk).exists()
    assert not signups.signup_discard(user=person)
