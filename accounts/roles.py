"""Roles and what each may do: the one table every API view and page consults.

The README's role table is generated from ROLE_CAPABILITIES (`make docs`).
"""

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent"
    VIEWER = "viewer", "Viewer"


class Capability(StrEnum):
    READ = "read"  # calls, recordings' metadata, stats, own profile and client
    PLAY_RECORDINGS = "play_recordings"  # listen to and download recordings
    UPDATE_CALLS = "update_calls"  # mark resolved, rate satisfaction, write notes, tag
    PLACE_CALLS = "place_calls"  # click-to-call: ring one's own phone, then the customer
    EXPORT_CALLS = "export_calls"  # CSV exports of calls (customer numbers in bulk)
    DELETE_RECORDINGS = "delete_recordings"
    MANAGE_INTEGRATIONS = "manage_integrations"  # Exotel and Shopify connections
    MANAGE_TEAM = "manage_team"  # invite, change roles, deactivate
    MANAGE_CLIENT = "manage_client"  # company details
    VIEW_AUDIT = "view_audit"  # the audit log
    MANAGE_DEVELOPERS = "manage_developers"  # API keys and outbound webhook endpoints


_VIEWER = {Capability.READ}
_AGENT = _VIEWER | {Capability.PLAY_RECORDINGS, Capability.UPDATE_CALLS, Capability.PLACE_CALLS}
_ADMIN = _AGENT | {
    Capability.MANAGE_INTEGRATIONS,
    Capability.MANAGE_TEAM,
    Capability.MANAGE_CLIENT,
    Capability.VIEW_AUDIT,
    Capability.EXPORT_CALLS,
    Capability.DELETE_RECORDINGS,
    Capability.MANAGE_DEVELOPERS,
}
# What only an owner may do (grant the owner role, stay the last owner) the team services check.
_OWNER = _ADMIN

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.AGENT: frozenset(_AGENT),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
}


def can(role: str | None, capability: Capability) -> bool:
    return role in ROLE_CAPABILITIES and capability in ROLE_CAPABILITIES[Role(role)]


def render_markdown() -> str:
    roles = list(ROLE_CAPABILITIES)
    rows = ["| capability | " + " | ".join(role.value for role in roles) + " |", "|---" * (len(roles) + 1) + "|"]
    for capability in Capability:
        marks = " | ".join("✓" if capability in ROLE_CAPABILITIES[role] else "" for role in roles)
        rows.append(f"| `{capability}` | {marks} |")
    return "\n".join(rows)


class ApiKeyScope(models.TextChoices):
    """What an API key may do: a ceiling on its creator's role, never a grant of its own."""

    READ = "read", "Read only"
    READ_PLAY = "read_play", "Read and play recordings"
    READ_WRITE = "read_write", "Read and write"


# No scope holds a manage_* capability, view_audit or delete_recordings: a key never manages keys,
# webhook endpoints, the team, integrations or the client, and cannot erase recordings.
SCOPE_CAPABILITIES: dict[ApiKeyScope, frozenset[Capability]] = {
    ApiKeyScope.READ: frozenset({Capability.READ}),
    ApiKeyScope.READ_PLAY: frozenset({Capability.READ, Capability.PLAY_RECORDINGS}),
    ApiKeyScope.READ_WRITE: frozenset(
        {
            Capability.READ,
            Capability.PLAY_RECORDINGS,
            Capability.UPDATE_CALLS,
            Capability.PLACE_CALLS,
            Capability.EXPORT_CALLS,
        }
    ),
}


def render_scope_markdown() -> str:
    rows = ["| scope | capabilities |", "|---|---|"]
    for scope, capabilities in SCOPE_CAPABILITIES.items():
        names = ", ".join(f"`{capability}`" for capability in Capability if capability in capabilities)
        rows.append(f"| `{scope.value}` ({scope.label.lower()}) | {names} |")
    return "\n".join(rows)
