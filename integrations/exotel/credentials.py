"""Checking Exotel credentials: the account SID must answer to that API key and token."""

from __future__ import annotations

from integrations.credentials import CheckResult, accepted, refused, unreachable
from integrations.exotel.client import (
    ExotelAuthError,
    ExotelClient,
    ExotelError,
    ExotelNotFound,
    ExotelUnavailable,
)
from integrations.models import ExotelConnection


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
