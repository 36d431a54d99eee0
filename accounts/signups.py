"""Sign-ups never verified: one gives way to an invitation for its address, and all are purged once
their verification link has long expired, each with the empty company it created."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import selectors
from accounts.models import AuditEvent, Client, User

logger = logging.getLogger("accounts.services")  # the name purges have always logged under

# How long an unverified sign-up outlives its verification link: time to ask for a new link
# (accounts/verify/resend/) before the account and its empty company are deleted.
UNVERIFIED_SIGNUP_GRACE = timedelta(days=7)


@transaction.atomic
def signup_discard(*, user: User) -> bool:
    """Delete a sign-up never verified, with the company it created, if they hold nothing else
    (selectors.signup_is_disposable); returns whether it was deleted. Idempotent."""
    user = User.objects.select_for_update(of=("self",)).filter(pk=user.pk).first()
    if user is None or user.client_id is None:
        return False
    client = Client.objects.select_for_update().get(pk=user.client_id)
    if not selectors.signup_is_disposable(user=user):
        return False
    # This company's log is only the sign-up's own story, and goes with it.
    AuditEvent.objects.filter(client=client).dangerously_delete_for_discarded_client()
    user.delete()
    client.delete()
    return True


def signups_purge_unverified(*, now: datetime | None = None) -> dict[str, int]:
    """Delete the sign-ups still unverified after the verification link's lifetime plus UNVERIFIED_SIGNUP_GRACE,
    with the empty companies they created; a sign-up whose company holds anything else is kept.
    Idempotent; returns the counts (purged, kept)."""
    cutoff = (now or timezone.now()) - settings.EMAIL_VERIFICATION_MAX_AGE - UNVERIFIED_SIGNUP_GRACE
    purged = kept = 0
    for user in selectors.unverified_signup_list(joined_before=cutoff):
        if signup_discard(user=user):
            purged += 1
        else:
            kept += 1
    logger.info("Purged %d unverified sign-up(s) and their companies; kept %d holding other data", purged, kept)
    return {"purged": purged, "kept": kept}
