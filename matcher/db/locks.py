"""One benefit's changes, one at a time: a lock taken before its state is read and held until commit.

Every action on a benefit (an enterprise's confirm, decline, objection or
supplied facts; an officer's review) checks the state it leaves and then
changes it. Two such actions at the same moment must not both pass the check,
so each first locks the benefit's key (enterprise, policy, period):

- PostgreSQL: a transaction-scoped advisory lock on a hash of the key; other
  benefits are not blocked;
- SQLite: the database's write lock (SQLite has one writer at a time anyway),
  taken by a write at the start of the transaction; waiting writers queue on
  the driver's busy timeout.

Reads after the lock see every change committed before it (PostgreSQL reads
each statement's own snapshot; SQLite's snapshot starts at the lock).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection, text, update

from matcher.db.models import notices

__all__ = ["lock_benefit"]


def _key_hash(uscc: str, policy_id: str, period_key: str) -> int:
    digest = hashlib.blake2b(f"benefit:{uscc}:{policy_id}:{period_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)  # advisory locks take a signed 64-bit key


def lock_benefit(connection: Connection, uscc: str, policy_id: str, period_key: str) -> None:
    """Wait for, then hold until commit, the right to change the benefit (uscc, policy_id, period_key)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _key_hash(uscc, policy_id, period_key)})
        return
    # A write that changes nothing: it opens the transaction and takes SQLite's write lock at once.
    connection.execute(
        update(notices)
        .where(notices.c.uscc == uscc, notices.c.policy_id == policy_id, notices.c.period_key == period_key)
        .values(attempts=notices.c.attempts)
    )
