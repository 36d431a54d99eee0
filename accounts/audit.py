"""Writing the audit logs: the tenants' (audit_record) and the staff's (staff_audit_record), called by services."""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import AuditAction, AuditEvent, Client, StaffAuditAction, StaffAuditEvent, User
from caly.foundation import context


def _origin() -> dict[str, Any]:
    """Where the current request came from: address, browser and request id (empty outside a request)."""
    current = context.current()
    return {
        "ip": current.extra.get("ip") if current else None,
        "user_agent": (current.extra.get("user_agent", "") if current else "")[:300],
        "request_id": current.request_id if current else "",
    }


def audit_record(
    *,
    action: AuditAction,
    client: Client | None,
    actor: User | None = None,
    target: models.Model | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; who, from where and which request come from the request context (and, for a
    request made with an API key, the key's prefix, in `metadata["api_key"]`)."""
    current = context.current()
    via_key = current.extra.get("api_key") if current else None
    return AuditEvent.objects.create(
        client=client,
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(getattr(target, "public_id", None) or getattr(target, "pk", "")) if target is not None else "",
        metadata={**(metadata or {}), **({"api_key": via_key} if via_key else {})},
        **_origin(),
    )


def staff_audit_record(
    *,
    action: StaffAuditAction,
    actor: User | None = None,
    email: str = "",
    details: dict[str, Any] | None = None,
) -> StaffAuditEvent:
    """Append one event to the staff log; address, browser and request id come from the request context."""
    return StaffAuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        email=email.strip().lower()[:254],
        details=details or {},
        **_origin(),
    )
