"""Deadlines on notices that ask something of the enterprise: reminders before the date, then the lapse.

A notice awaiting confirmation or asking for a fact carries ``respond_by``.
While it stays unanswered, a reminder goes out ``REMINDER_DAYS`` before that
date (7, 3 and 1 day: three reminders, as some cities send before treating a
benefit as forgone); the day after it, the notice lapses: a ``lapsed``
response is recorded (the ranker learns from it too), a ``lapsed`` notice tells
the enterprise, and a confirmation is refused from then on
(``api/service/actions.py``). Only delivered notices are reminded: an enterprise
is never reminded of a notice it has not received. Each pass is repeatable:
reminders and lapse notices are unique by topic, and the lapse is written
under a lock, so a second pass on the same day sends nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import Engine, exists, func, insert, select

from matcher.db.bulk import insert_missing
from matcher.db.locks import lock_benefit
from matcher.db.models import notices, responses
from matcher.delivery import moot
from matcher.ledger import DecisionStatus, DeliveryStatus

__all__ = ["ANSWERS", "ASKING", "REMINDER_DAYS", "DeadlineReport", "watch_deadlines"]

ASKING = (DecisionStatus.AWAITING_CONFIRMATION, DecisionStatus.NEEDS_DATA)
REMINDER_DAYS = (7, 3, 1)
# What answers a notice that asks: after any of these, no reminder and no lapse.
ANSWERS = ("confirmed", "declined", "objected", "supplied_data", "lapsed")
ACTOR = "system:deadlines"


@dataclass(frozen=True)
class DeadlineReport:
    reminded: int
    lapsed: int


def _open(today: date):
    """Delivered asking notices with no answer, not moot, and their deadline."""
    answered = exists().where(responses.c.notice_id == notices.c.id, responses.c.kind.in_(ANSWERS))
    return select(
        notices.c.id,
        notices.c.uscc,
        notices.c.policy_id,
        notices.c.policy_version,
        notices.c.period_key,
        notices.c.run_id,
        notices.c.amount_fen,
        notices.c.respond_by,
    ).where(
        notices.c.kind.in_(ASKING),
        notices.c.delivery_status == DeliveryStatus.DELIVERED,
        notices.c.respond_by.is_not(None),
        ~answered,
        ~moot(),
    )


_SCHEMA = {
    "id": pl.Int64,
    "uscc": pl.String,
    "policy_id": pl.String,
    "policy_version": pl.Int32,
    "period_key": pl.String,
    "run_id": pl.String,
    "amount_fen": pl.Int64,
    "respond_by": pl.Date,
}


def _notices_of(rows: pl.DataFrame, kind: str, topic: pl.Expr, now: datetime) -> pl.DataFrame:
    return rows.select(
        "uscc",
        "policy_id",
        "policy_version",
        "period_key",
        "run_id",
        "amount_fen",
        "respond_by",
        kind=pl.lit(kind),
        topic=topic,
        delivery_status=pl.lit(str(DeliveryStatus.PENDING)),
        attempts=pl.lit(0),
        next_attempt_at=pl.lit(now),
        created_at=pl.lit(now),
    )


def watch_deadlines(engine: Engine, today: date, *, now: datetime | None = None) -> DeadlineReport:
    """Send the reminders due on ``today`` and lapse what passed its deadline before it."""
    now = now or datetime.now(UTC)
    with engine.connect() as connection:
        found = pl.DataFrame(
            connection.execute(_open(today).where(notices.c.respond_by >= today)).all(), schema=_SCHEMA, orient="row"
        )
    # The nearest reminder due: at 2 days before, the 3-day one (the 7-day one, if missed, is not sent late).
    due = found.with_columns(left=(pl.col("respond_by") - pl.lit(today)).dt.total_days())
    due = due.with_columns(
        reminder=pl.min_horizontal(
            [pl.when(pl.col("left") <= k).then(pl.lit(k)) for k in REMINDER_DAYS]  # null when none is due yet
        )
    ).filter(pl.col("reminder").is_not_null() & (pl.col("left") >= 0))
    reminders = _notices_of(due, "reminder", pl.format("{}:{}", "id", "reminder"), now)
    before = _count(engine, "reminder")
    insert_missing(engine, notices, reminders)
    reminded = _count(engine, "reminder") - before

    with engine.begin() as connection:
        lock_benefit(connection, ACTOR, "", "")  # one lapse pass at a time: each lapse recorded once
        late = pl.DataFrame(
            connection.execute(_open(today).where(notices.c.respond_by < today)).all(), schema=_SCHEMA, orient="row"
        )
        if late.height:  # the lapse and its notice in one transaction: neither without the other
            connection.execute(
                insert(responses),
                [
                    {
                        "notice_id": r["id"],
                        "uscc": r["uscc"],
                        "policy_id": r["policy_id"],
                        "period_key": r["period_key"],
                        "kind": "lapsed",
                        "detail": {"respond_by": r["respond_by"].isoformat()},
                        "actor": ACTOR,
                        "at": now,
                    }
                    for r in late.iter_rows(named=True)
                ],
            )
            connection.execute(
                insert(notices), _notices_of(late, "lapsed", pl.col("id").cast(pl.String), now).to_dicts()
            )
    return DeadlineReport(reminded, late.height)


def _count(engine: Engine, kind: str) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(notices).where(notices.c.kind == kind)).scalar_one()
