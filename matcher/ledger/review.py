"""What a later run does about benefits already in the ledger for its periods.

A run re-evaluates every policy over today's profiles, including for the
benefits earlier runs granted (``decide``'s ``standing``). For those:

- **not yet paid, still eligible, a new amount** (a policy without a budget,
  whose amounts are comparable): the ledger is adjusted — an ``adjusted``
  journal entry by the run, and a ``corrected`` notice telling the enterprise
  the new amount, one each per benefit, set-based (``set_amounts``: a few
  statements per chunk of benefits, not one transaction per benefit);
- **not yet paid, no longer eligible**: proposed to an officer for cancelling;
- **paid, no longer eligible**: proposed to an officer for recovery;
- **paid, now owed more**: proposed to an officer for a top-up.

Money already paid is never taken back, and nothing is cancelled, without an
officer's decision (``ledger_proposals``). Each step is repeatable: an
adjusted benefit already has its new amount on a rerun, and a proposal is
unique per benefit, action and run (and not repeated while one is open).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import polars as pl
from sqlalchemy import Engine, select

from matcher.amounts import yuan_text
from matcher.db.bulk import CHUNK_ROWS, insert_missing, write_missing
from matcher.db.models import ledger_proposals, notices
from matcher.ledger.bulk import set_amounts
from matcher.ledger.statuses import BenefitStatus, JournalEntry
from matcher.notices import RESPONSE_DAYS
from policies.compiled import CompiledPolicy

__all__ = ["UNPAID", "review_ledger"]

UNPAID = (BenefitStatus.GRANTED, BenefitStatus.PAYABLE, BenefitStatus.HELD, BenefitStatus.PAYMENT_FAILED)


def change_notices(moved: pl.DataFrame, kind: str, topic: str, now: datetime) -> pl.DataFrame:
    """``notices`` rows telling each enterprise of the change of its benefit (``moved``: the ledger rows after
    it), as ``matcher.notices.change_notice`` builds one: it may object within ``RESPONSE_DAYS``."""
    return moved.select(
        "uscc",
        "policy_id",
        "policy_version",
        "period_key",
        kind=pl.lit(kind),
        topic=pl.lit(topic),
        run_id="run_id",
        amount_fen="amount_fen",
        respond_by=pl.lit(now.date() + timedelta(days=RESPONSE_DAYS)),
        delivery_status=pl.lit("pending"),
        attempts=pl.lit(0, pl.Int64),
        next_attempt_at=pl.lit(now),
        created_at=pl.lit(now),
    )


def review_ledger(
    engine: Engine,
    run_id: str,
    as_of: date,
    standing: pl.DataFrame,
    prior: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    now: datetime,
) -> dict[str, int]:
    """Adjust what the rules now price differently and propose the rest; counts of each."""
    budgeted = [p.id for p in policies if p.policy.budget is not None]
    rows = standing.join(
        prior.select("uscc", "policy_id", "period_key", "status", "amount_fen", "paid_fen"),
        on=["uscc", "policy_id", "period_key"],
    )
    unpaid = pl.col("status").is_in([str(s) for s in UNPAID])
    paid = pl.col("status") == BenefitStatus.PAID
    comparable = ~pl.col("policy_id").is_in(budgeted)
    now_eligible, not_eligible = pl.col("eligible_now").fill_null(False), pl.col("eligible_now") == False  # noqa: E712

    changed = rows.filter(unpaid & now_eligible & comparable & (pl.col("amount_now_fen") != pl.col("amount_fen")))
    changes = changed.select(
        "uscc",
        "policy_id",
        "period_key",
        amount_before_fen="amount_fen",
        amount_fen="amount_now_fen",
        reason=pl.format(
            "the registry data as of {} give {} yuan (was {})",
            pl.lit(str(as_of)),
            yuan_text(pl.col("amount_now_fen")),
            yuan_text(pl.col("amount_fen")),
        ),
    )
    adjusted = 0
    for start in range(0, changes.height, CHUNK_ROWS):  # a few statements a chunk, however many amounts change
        with engine.begin() as connection:
            # A benefit paid, cancelled or repriced meanwhile is left out: the next run sees it as it is then.
            moved = set_amounts(
                connection,
                JournalEntry.ADJUSTED,
                changes.slice(start, CHUNK_ROWS),
                actor=f"run:{run_id}",
                ref=run_id,
                at=now,
            )
            write_missing(connection, notices, change_notices(moved, "corrected", f"run:{run_id}", now))
        adjusted += moved.height

    proposals = pl.concat(
        [
            rows.filter(paid & not_eligible).with_columns(
                action=pl.lit("recover"),
                amount_fen=pl.lit(None, dtype=pl.Int64),
                reason=pl.format(
                    "paid {} yuan, but the registry data as of {} no longer meet the policy's conditions",
                    yuan_text(pl.col("paid_fen")),
                    pl.lit(str(as_of)),
                ),
                reason_zh=pl.format(
                    "已拨付 {} 元，但按 {} 的共享数据已不符合政策条件",
                    yuan_text(pl.col("paid_fen")),
                    pl.lit(str(as_of)),
                ),
            ),
            rows.filter(unpaid & not_eligible).with_columns(
                action=pl.lit("cancel"),
                amount_fen=pl.lit(None, dtype=pl.Int64),
                reason=pl.format(
                    "not yet paid; the registry data as of {} no longer meet the policy's conditions",
                    pl.lit(str(as_of)),
                ),
                reason_zh=pl.format("尚未拨付；按 {} 的共享数据已不符合政策条件", pl.lit(str(as_of))),
            ),
            rows.filter(paid & now_eligible & comparable & (pl.col("amount_now_fen") > pl.col("amount_fen")))
            .with_columns(increase=pl.col("amount_now_fen") - pl.col("amount_fen"))
            .with_columns(
                action=pl.lit("top_up"),
                amount_fen=pl.col("increase"),
                reason=pl.format(
                    "paid {} yuan; the registry data as of {} give {} yuan",
                    yuan_text(pl.col("paid_fen")),
                    pl.lit(str(as_of)),
                    yuan_text(pl.col("amount_now_fen")),
                ),
                reason_zh=pl.format(
                    "已拨付 {} 元；按 {} 的共享数据应为 {} 元",
                    yuan_text(pl.col("paid_fen")),
                    pl.lit(str(as_of)),
                    yuan_text(pl.col("amount_now_fen")),
                ),
            )
            .drop("increase"),
        ],
        how="vertical_relaxed",
    ).select("uscc", "policy_id", "period_key", "action", "amount_fen", "reason", "reason_zh")
    with engine.connect() as connection:  # one open proposal per benefit and action is enough
        open_ = pl.DataFrame(
            connection.execute(
                select(
                    ledger_proposals.c.uscc,
                    ledger_proposals.c.policy_id,
                    ledger_proposals.c.period_key,
                    ledger_proposals.c.action,
                ).where(ledger_proposals.c.status == "open", ledger_proposals.c.run_id != run_id)
            ).all(),
            schema={"uscc": pl.String, "policy_id": pl.String, "period_key": pl.String, "action": pl.String},
            orient="row",
        )
    fresh = proposals.join(open_, on=["uscc", "policy_id", "period_key", "action"], how="anti").with_columns(
        run_id=pl.lit(run_id), status=pl.lit("open"), created_at=pl.lit(now)
    )
    insert_missing(engine, ledger_proposals, fresh)
    return {"adjusted": adjusted, "proposed": fresh.height}
