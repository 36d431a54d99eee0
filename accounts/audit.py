"""Writing the audit log: one function, called by services (never by views)."""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import AuditAction, AuditEvent, Client, User
from caly import context


def audit_record(
    *,
    action: AuditAction,
    client: Client | None,
    actor: User | None = None,
    target: models.Model | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; who, from where and which request come from the request context."""
    current = context.current()
    return AuditEvent.objects.create(
        client=client,
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(getattr(target, "public_id", None) or getattr(target, "pk", "")) if target is not None else "",
        ip=current.extra.get("ip") if current else None,
        user_agent=(current.extra.get("user_agent", "") if current else "")[:300],
        request_id=current.request_id if current else "",
        metadata=metadata or {},
    )
