"""Exotel credentials: checked with Exotel (the account SID must answer to that API key and token), then
saved; and the callback token that Exotel's callback URLs carry."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import AuditAction, Client, User
from integrations.credentials import CheckResult, accepted, refused, unreachable
from integrations.exotel.client import (
    ExotelAuthError,
    ExotelClient,
    ExotelError,
    ExotelNotFound,
    ExotelUnavailable,
)
from integrations.models import ExotelConnection, new_webhook_token
from integrations.services import connection_save, invalid_request
from recordings.models import e164

EXOTEL_FIELDS = (
    "account_sid",
    "api_key",
    "api_token",
    "api_host",
    "caller_ids",
    "callback_username",
    "callback_password",
)
NOT_VERIFIED = "Saved, not verified: {problem} Test the connection once Exotel answers."


def exotel_credentials_check(connection: ExotelConnection) -> CheckResult:
    """One authenticated request for the account (saved or not); writes nothing."""
    try:
        with ExotelClient(connection) as exotel:
            exotel.account_check()
    except ExotelAuthError:
        return refused("api_token", "Exotel refused the API key and token.")
    except ExotelNotFound:
        return refused("account_sid", f"Exotel has no account with the SID {connection.account_sid}.")
    except ExotelUnavailable as exc:
        return unreachable(str(exc))
    except ExotelError as exc:
        return refused("api_token", str(exc))
    return accepted("Exotel accepted the credentials.")


def _exotel_callback_rules(connection: ExotelConnection) -> list[str]:
    """A callback password goes with a callback user name: cleared without one, required with one."""
    if not connection.callback_username and connection.callback_password:
        connection.callback_password = ""
        return ["callback_password"]
    if connection.callback_username and not connection.callback_password:
        raise invalid_request({"callback_password": ["Set a password with the callback user name."]})
    return []


def exotel_connection_save(*, client: Client, actor: User | None, **fields: Any) -> ExotelConnection:
    """Connect Exotel or change the connection, once Exotel accepts the credentials (secrets left empty
    keep their stored value). VALIDATION_ERROR for bad settings or credentials Exotel refuses; saved
    unverified when Exotel cannot be reached."""
    problems: dict[str, list[str]] = {}
    host = fields.get("api_host")
    if host is not None and host not in settings.EXOTEL_API_HOSTS:
        problems["api_host"] = [f"Choose one of {', '.join(settings.EXOTEL_API_HOSTS)}."]
    caller_ids = fields.get("caller_ids")
    if caller_ids is not None:
        if not isinstance(caller_ids, list) or len(caller_ids) > 50:
            problems["caller_ids"] = ["Give a list of at most 50 phone numbers."]
        else:
            for number in caller_ids:
                try:
                    e164(number)
                except ValidationError:
                    problems["caller_ids"] = [f"{str(number)[:20]!r} is not an E.164 number such as +919876543210."]
                    break
    if problems:
        raise invalid_request(problems)
    return connection_save(
        ExotelConnection,
        client=client,
        actor=actor,
        fields=fields,
        allowed=EXOTEL_FIELDS,
        verify=exotel_credentials_check,
        not_verified=NOT_VERIFIED,
        rules=_exotel_callback_rules,
    )


@transaction.atomic
def exotel_webhook_token_rotate(*, connection: ExotelConnection, actor: User | None) -> ExotelConnection:
    """A new callback token: the old callback URLs stop working at once."""
    connection.webhook_token = new_webhook_token()
    connection.save(update_fields=["webhook_token", "updated_at"])
    audit_record(
        action=AuditAction.INTEGRATION_UPDATED,
        client=connection.client,
        actor=actor,
        target=connection,
        metadata={"provider": "exotel", "changed": ["webhook_token"]},
    )
    return connection
