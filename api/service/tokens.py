"""Bearer tokens: issued once, stored only as a hash.

A token is ``hq_`` followed by 32 random bytes (URL-safe base64). It carries
no claims: the role and, for an enterprise, the one USCC it acts for live in
the ``api_tokens`` row found by the token's SHA-256. A salted slow hash is
not needed — the secret is random, not a password a person chose — and an
unsalted digest lets the lookup be one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update

from api.service.roles import PRINCIPAL_TTL, ROLES
from features.standards.uscc import uscc_problem
from matcher.db.models import api_tokens

__all__ = [
    "PRINCIPAL_TTL",
    "ROLES",
    "TOKEN_ROW",
    "Principal",
    "hash_token",
    "issue_token",
    "live_principal",
    "lookup_token",
    "revoke_token",
    "token_lookup",
]

PREFIX = "hq_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id, role, holder's name and (enterprise only) USCC; an operator at the
    command line has no token."""

    token_id: int | None
    role: str
    name: str
    uscc: str | None = None

    @classmethod
    def operator(cls, name: str) -> Principal:
        """Someone running a ``huiqi`` command (no token): audited as ``cli:<name>``."""
        return cls(None, "cli", name)

    @property
    def actor(self) -> str:
        """How the audit log and the feedback name the caller (at most 80 characters)."""
        who = f"{self.role}:{self.uscc}" if self.uscc else f"{self.role}:{self.name}"
        return (who if self.token_id is None else f"{who}#{self.token_id}")[:80]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    engine: Engine,
    *,
    role: str,
    name: str,
    uscc: str | None = None,
    expires_in: timedelta | None = None,
    now: datetime | None = None,
) -> tuple[str, int]:
    """A new token (returned once, never stored) and its row id."""
    if role not in ROLES:
        raise ValueError(f"role: expected one of {', '.join(ROLES)}, found {role!r}")
    if role == "enterprise":
        if not uscc:
            raise ValueError("uscc: an enterprise token is bound to one enterprise; give its USCC")
        problem = uscc_problem(uscc)
        if problem:
            raise ValueError(f"uscc: {uscc!r} is not a valid USCC: {problem}")
    elif uscc:
        raise ValueError(f"uscc: only enterprise tokens are bound to a USCC, not {role} tokens")
    if not name.strip():
        raise ValueError("name: say who holds the token (it is written to the audit log)")
    token = PREFIX + secrets.token_urlsafe(32)
    stamp = now or datetime.now(UTC)
    with engine.begin() as connection:
        token_id = connection.execute(
            insert(api_tokens)
            .values(
                token_hash=hash_token(token),
                prefix=token[:10],
                role=role,
                uscc=uscc,
                name=name.strip()[:80],
                created_at=stamp,
                expires_at=stamp + expires_in if expires_in else None,
            )
            .returning(api_tokens.c.id)
        ).scalar_one()
    return token, token_id


# The row of a token, by the hash of it.
TOKEN_ROW = select(
    api_tokens.c.id,
    api_tokens.c.role,
    api_tokens.c.name,
    api_tokens.c.uscc,
    api_tokens.c.revoked_at,
    api_tokens.c.expires_at,
).where(api_tokens.c.token_hash == bindparam("token_hash"))


def token_lookup(token: str) -> dict[str, str] | None:
    """``TOKEN_ROW``'s parameters for ``token``; None when it cannot be one of ours."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    return {"token_hash": hash_token(token)}


def live_principal(row: Sequence[Any] | None, now: datetime | None = None) -> Principal | None:
    """The principal of a ``TOKEN_ROW`` row if the token is live; None for none, a revoked or an expired one."""
    if row is None:
        return None
    token_id, role, name, uscc, revoked_at, expires_at = row
    if revoked_at is not None:
        return None
    if expires_at is not None:
        expires = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)  # SQLite drops the zone
        if expires <= (now or datetime.now(UTC)):
            return None
    return Principal(token_id, role, name, uscc)


def lookup_token(engine: Engine, token: str, now: datetime | None = None) -> Principal | None:
    """The principal of a live token; None for an unknown, revoked or expired one."""
    params = token_lookup(token)
    if params is None:
        return None
    with engine.connect() as connection:
        row = connection.execute(TOKEN_ROW, params).first()
    return live_principal(row, now)


def revoke_token(engine: Engine, token_id: int, now: datetime | None = None) -> bool:
    with engine.begin() as connection:
        done = connection.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now or datetime.now(UTC))
        )
    return done.rowcount == 1
