"""Accounts: one per person, with a role of permissions.yml (`lake dashboards invite`), through Superset's API."""

from __future__ import annotations

from dashboards.api import SupersetClient
from lake.errors import LakeError


def _role_id(client: SupersetClient, role: str) -> int:
    found = client.find("security/roles", "name", role)
    if not found:
        raise LakeError(f"Superset has no role {role!r} yet", "run `lake dashboards provision` first")
    return found[0]["id"]


def invite(client: SupersetClient, email: str, role: str, password: str, name: str | None = None) -> bool:
    """Create the account `email` (its user name too) with `role`; True if created, False if it existed (the
    role is then added to its roles and the password is left alone)."""
    role_id = _role_id(client, role)
    found = client.find("security/users", "username", email)
    if found:
        user = client.get(f"/api/v1/security/users/{found[0]['id']}")["result"]
        roles = sorted({r["id"] for r in user.get("roles") or []} | {role_id})
        client.put(f"/api/v1/security/users/{user['id']}", {"roles": roles})
        return False
    first, _, last = (name or email.split("@")[0].replace(".", " ").title()).partition(" ")
    client.post("/api/v1/security/users/", {
        "username": email, "email": email, "first_name": first or email, "last_name": last or "-",
        "active": True, "password": password, "roles": [role_id],
    })
    return True
