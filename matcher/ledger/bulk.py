"""Set-based moves: one entry applied to every benefit a condition selects, in two statements, not a loop.

A payment batch moves a million benefits at once (made payable, batched, paid,
failed, unbatched); ``move`` one by one cannot. ``move_all`` reads the same
``MOVES`` table, so the state machine stays the one truth: only benefits in a
source status of the entry move, to its target, each with its journal entry
(who, why, ``ref``) written in the caller's transaction.

- PostgreSQL: one statement, ``WITH old AS (SELECT … FOR UPDATE), moved AS
  (UPDATE … RETURNING) INSERT INTO benefit_journal SELECT … FROM moved``: the
  rows journaled are exactly the rows changed, whatever commits meanwhile.
- SQLite: the journal rows (``INSERT … SELECT``), then the same rows changed
  (``UPDATE``), in one write transaction: SQLite has one writer, so nothing
  can change a benefit between the two statements.

Exactly once: a rerun finds the moved benefits in the target status (not a
source any more) and leaves them alone; the journal's unique key (benefit,
entry, ref) refuses a second entry for the same cause.

Only moves that keep the amount owed are set-based (``owed == "keep"``): an
amount that changes is decided one benefit at a time, by ``move``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, insert, literal, select, update

from matcher.db.models import benefit_journal, benefits
from matcher.ledger.moves import MOVES
from matcher.ledger.statuses import JournalEntry

__all__ = ["move_all"]

_COLUMNS = ["uscc", "policy_id", "period_key", "entry", "status_before", "status_after"]
_COLUMNS += ["amount_before_fen", "amount_after_fen", "paid_fen", "actor", "reason", "ref", "at"]


def move_all(
    connection: Connection,
    entry: JournalEntry,
    where: ColumnElement[bool],
    *,
    actor: str,
    reason: str,
    ref: str,
    at: datetime,
) -> int:
    """Apply ``entry`` to every benefit matching ``where`` (a condition on ``benefits``) that is in one of the
    entry's source statuses; return how many moved. Benefits in any other status are left as they are."""
    rule = MOVES[entry]
    if rule.owed != "keep" or rule.target is None or None in rule.sources:
        raise ValueError(f"'{entry}' changes the amount or creates a benefit: apply it one benefit at a time (move)")
    sources = sorted(str(s) for s in rule.sources)
    target = str(rule.target)
    selected = (where, benefits.c.status.in_(sources))
    if connection.dialect.name == "postgresql":
        old = (
            select(benefits.c.id, benefits.c.status, benefits.c.paid_fen).where(*selected).with_for_update().cte("old")
        )
        paid_after = benefits.c.amount_fen if rule.pays else benefits.c.paid_fen
        moved = (
            update(benefits)
            .where(benefits.c.id == old.c.id)
            .values(status=target, paid_fen=paid_after)
            .returning(
                benefits.c.uscc,
                benefits.c.policy_id,
                benefits.c.period_key,
                old.c.status.label("before"),
                benefits.c.amount_fen,
                (benefits.c.amount_fen - old.c.paid_fen).label("outstanding"),
            )
            .cte("moved")
        )
        paid = moved.c.outstanding if rule.pays else literal(0)
        entries = select(
            moved.c.uscc,
            moved.c.policy_id,
            moved.c.period_key,
            literal(str(entry)),
            moved.c.before,
            literal(target),
            moved.c.amount_fen,
            moved.c.amount_fen,
            paid,
            literal(actor),
            literal(reason),
            literal(ref),
            literal(at),
        )
        journaled = insert(benefit_journal).from_select(_COLUMNS, entries).returning(literal(1)).cte("journaled")
        return connection.execute(select(func.count()).select_from(journaled)).scalar_one()
    paid = (benefits.c.amount_fen - benefits.c.paid_fen) if rule.pays else literal(0)
    entries = select(
        benefits.c.uscc,
        benefits.c.policy_id,
        benefits.c.period_key,
        literal(str(entry)),
        benefits.c.status,
        literal(target),
        benefits.c.amount_fen,
        benefits.c.amount_fen,
        paid,
        literal(actor),
        literal(reason),
        literal(ref),
        literal(at),
    ).where(*selected)
    journaled = connection.execute(insert(benefit_journal).from_select(_COLUMNS, entries)).rowcount
    values = {"status": target} | ({"paid_fen": benefits.c.amount_fen} if rule.pays else {})
    changed = connection.execute(update(benefits).where(*selected).values(**values)).rowcount
    if changed != journaled:  # cannot happen with one writer; if it ever did, nothing of it may commit
        raise RuntimeError(f"'{entry}': {journaled} journal entries for {changed} benefits changed")
    return changed
