"""The service's roles and how long a worker trusts a token it has seen: importable without SQLAlchemy (the token
command's help names them)."""

from __future__ import annotations

__all__ = ["PRINCIPAL_TTL", "ROLES"]

ROLES = ("enterprise", "officer", "analyst", "admin", "supervisor", "monitor")
# Seconds a server process may remember a token's principal (api/service/auth.py): how long a token revoked
# or expired elsewhere may still work there.
PRINCIPAL_TTL = 10
