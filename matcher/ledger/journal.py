"""Changing a benefit: every change is a named move that checks the state it leaves and writes a journal entry.

A move runs inside the caller's transaction, after ``lock_benefit`` (taken here
too: the lock is re-entrant within a transaction), so the check, the change and
the journal entry commit together or not at all. An illegal move raises
``IllegalMove`` naming the benefit, its status and what would be allowed.
Balances are the sum of the journal: ``amount_fen`` of the amount changes,
``paid_fen`` of the payments (a property test holds them together).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from matcher.db.locks import lock_benefit
from matcher.db.models import benefit_journal, benefits
from matcher.errors import IllegalMove
from matcher.ledger.moves import MOVES
from matcher.ledger.statuses import BenefitStatus, JournalEntry

__all__ = ["BenefitKey", "Change", "current", "entries", "move"]


@dataclass(frozen=True)
class BenefitKey:
    uscc: str
    policy_id: str
    period_key: str

    @classmethod
    def of(cls, row: Any) -> BenefitKey:
        """The key of anything with ``uscc``, ``policy_id`` and ``period_key`` (a notice, a decision, a row)."""
        return cls(row.uscc, row.policy_id, row.period_key)

    def __str__(self) -> str:
        return f"{self.uscc}:{self.policy_id}:{self.period_key}"


@dataclass(frozen=True)
class Change:
    key: BenefitKey
    entry: JournalEntry
    status_before: BenefitStatus | None
    status_after: BenefitStatus
    amount_before_fen: int
    amount_after_fen: int
    paid_fen: int


def _where(key: BenefitKey):
    return and_(
        benefits.c.uscc == key.uscc, benefits.c.policy_id == key.policy_id, benefits.c.period_key == key.period_key
    )


def current(connection: Connection, key: BenefitKey) -> Any:
    """The benefit's row, or None when the ledger holds nothing for ``key``."""
    return connection.execute(select(benefits).where(_where(key))).first()


def entries(connection: Connection, key: BenefitKey) -> list[Any]:
    """The benefit's journal, oldest first: every change with who, why and the amounts."""
    where = and_(
        benefit_journal.c.uscc == key.uscc,
        benefit_journal.c.policy_id == key.policy_id,
        benefit_journal.c.period_key == key.period_key,
    )
    return list(connection.execute(select(benefit_journal).where(where).order_by(benefit_journal.c.id)).mappings())


def move(
    connection: Connection,
    key: BenefitKey,
    entry: JournalEntry,
    *,
    actor: str,
    reason: str,
    ref: str,
    amount_fen: int | None = None,
    policy_version: int | None = None,
    run_id: str | None = None,
    at: datetime | None = None,
) -> Change:
    """Apply ``entry`` to the benefit ``key``.

    ``amount_fen``: the new amount owed (granted, confirmed, adjusted, regranted) or the increase (top_up).
    ``policy_version`` and ``run_id``: for an entry that creates the benefit.
    """
    rule = MOVES[entry]
    at = at or datetime.now(UTC)
    lock_benefit(connection, key.uscc, key.policy_id, key.period_key)
    row = current(connection, key)
    before = None if row is None else BenefitStatus(row.status)
    if before not in rule.sources:
        allowed = ", ".join(sorted("none" if s is None else str(s) for s in rule.sources))
        raise IllegalMove(
            f"cannot record '{entry}' for benefit {key}: it is {before or 'not in the ledger'}; "
            f"'{entry}' applies only to a benefit that is {allowed}",
            key=str(key),
            status=None if before is None else str(before),
            entry=str(entry),
        )
    if rule.owed in ("given", "add") and amount_fen is None:
        raise ValueError(f"'{entry}' needs amount_fen")
    owed_before = 0 if row is None else row.amount_fen
    paid_before = 0 if row is None else row.paid_fen
    owed_after = {
        "given": amount_fen,
        "keep": owed_before,
        "zero": 0,
        "add": owed_before + (amount_fen or 0),
    }[rule.owed]
    paid = 0
    if rule.pays:
        paid = -paid_before if rule.owed == "zero" else owed_before - paid_before
    paid_after = paid_before + paid
    if paid_after > owed_after:  # e.g. cancelling a benefit paid and then topped up: the money is out already
        raise IllegalMove(
            f"cannot record '{entry}' for benefit {key}: {paid_after / 100:.2f} yuan of it was paid already and"
            f" '{entry}' would leave {owed_after / 100:.2f} yuan owed; a benefit never owes less than was paid:"
            " adjust it to no less than what was paid, or recover the payment once the benefit is paid",
            key=str(key),
            status=None if before is None else str(before),
            entry=str(entry),
        )
    after = rule.target or before
    assert after is not None  # a move with no target never creates a benefit
    if row is None:
        connection.execute(
            insert(benefits).values(
                uscc=key.uscc,
                policy_id=key.policy_id,
                period_key=key.period_key,
                policy_version=policy_version,
                amount_fen=owed_after,
                paid_fen=0,
                status=str(after),
                run_id=run_id,
                granted_at=at,
            )
        )
    else:
        changed = connection.execute(
            update(benefits)
            .where(benefits.c.id == row.id, benefits.c.status == row.status, benefits.c.amount_fen == row.amount_fen)
            .values(status=str(after), amount_fen=owed_after, paid_fen=paid_before + paid)
        ).rowcount
        if changed != 1:  # a bulk move (payment batches) changed it since it was read: journal nothing
            raise IllegalMove(
                f"benefit {key} changed while '{entry}' was being recorded (it was {before}); read it again and retry",
                key=str(key),
                status=str(before),
                entry=str(entry),
            )
    connection.execute(
        insert(benefit_journal).values(
            uscc=key.uscc,
            policy_id=key.policy_id,
            period_key=key.period_key,
            entry=str(entry),
            status_before=None if before is None else str(before),
            status_after=str(after),
            amount_before_fen=owed_before,
            amount_after_fen=owed_after,
            paid_fen=paid,
            actor=actor,
            reason=reason,
            ref=ref,
            at=at,
        )
    )
    return Change(key, entry, before, after, owed_before, owed_after, paid)
