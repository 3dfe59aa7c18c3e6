"""Open statistics (政务公开): what each policy's rules found, granted and paid in a year, for anyone to read, with
no figure that could single out an enterprise.

Per policy and year — the year of the as-of date of the run that decided or granted (a 2025 run executed in
January 2026 counts for 2025), overall and by one dimension at a time — region (the prefecture, the
first four digits of the division code inside the USCC), size class and industry section (from the latest
profiles; ``unknown`` for an enterprise without one):

- ``eligible`` — enterprises the rules said yes to (granted, awaiting confirmation or recommended) in any run
  as of a day of the year;
- ``granted`` — enterprises with a benefit entered in the ledger by such a run and not cancelled;
- ``paid`` — enterprises paid anything for those benefits, ``paid_fen`` the sum paid (the ledger's ``paid_fen``);
- ``median_days_to_payment`` — calendar days from the benefit's entry in the ledger to its first payment.

Small cells are suppressed (``null``): a count from 1 to ``threshold - 1`` is never shown, and neither is the
amount or the median of fewer than ``threshold`` paid enterprises. Suppression is *complementary*: within each
column of a table, the hidden cells together always hold at least ``threshold`` enterprises (more cells are hidden,
smallest first, until they do), so subtracting the shown cells from the total recovers only an aggregate of at
least ``threshold`` firms. A total under the threshold hides the whole column. Only whole years are published: a
year and its quarters side by side would let a quarter be recovered by subtraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Connection, and_, func, select

from matcher.db.models import benefit_journal, benefits, decisions, runs
from matcher.ledger.statuses import ELIGIBLE_DECISIONS, BenefitStatus, JournalEntry

__all__ = ["DEFAULT_THRESHOLD", "DIMENSIONS", "MEASURES", "PolicyYear", "enterprise_rows", "publish"]

DEFAULT_THRESHOLD = 5
DIMENSIONS = ("region", "size_class", "industry")
MEASURES = ("eligible", "granted", "paid")
UNKNOWN = "unknown"
_ROW_SCHEMA = {
    "uscc": pl.String,
    "eligible": pl.Boolean,
    "granted": pl.Boolean,
    "paid_fen": pl.Int64,
    "days_to_payment": pl.Float64,
}


@dataclass(frozen=True)
class PolicyYear:
    policy_id: str
    year: int

    def as_of_in(self, as_of: Any) -> tuple[Any, Any]:
        """The year's conditions on a run's as-of date: its decisions and grants belong to that year."""
        return as_of >= date(self.year, 1, 1), as_of < date(self.year + 1, 1, 1)


def enterprise_rows(connection: Connection, which: PolicyYear) -> pl.DataFrame:
    """One row per enterprise the policy touched that year: eligible, granted, paid_fen, days_to_payment (median
    over its benefits paid), from the decisions and the ledger in three queries."""
    eligible = connection.execute(
        select(decisions.c.uscc)
        .distinct()
        .join(runs, runs.c.id == decisions.c.run_id)
        .where(
            decisions.c.policy_id == which.policy_id,
            decisions.c.status.in_([s.value for s in ELIGIBLE_DECISIONS]),
            *which.as_of_in(runs.c.as_of),
        )
    ).scalars()
    eligible_frame = pl.DataFrame({"uscc": list(eligible)}, schema={"uscc": pl.String}).with_columns(
        eligible=pl.lit(True)
    )
    first_paid = (
        select(
            benefit_journal.c.uscc,
            benefit_journal.c.period_key,
            func.min(benefit_journal.c.at).label("paid_at"),
        )
        .where(benefit_journal.c.policy_id == which.policy_id, benefit_journal.c.entry == JournalEntry.PAID.value)
        .group_by(benefit_journal.c.uscc, benefit_journal.c.period_key)
        .subquery()
    )
    ledger = connection.execute(
        select(
            benefits.c.uscc,
            benefits.c.status,
            benefits.c.paid_fen,
            benefits.c.granted_at,
            first_paid.c.paid_at,
        )
        .outerjoin(
            first_paid,
            and_(first_paid.c.uscc == benefits.c.uscc, first_paid.c.period_key == benefits.c.period_key),
        )
        .join(runs, runs.c.id == benefits.c.run_id)
        .where(benefits.c.policy_id == which.policy_id, *which.as_of_in(runs.c.as_of))
    ).all()
    ledger_frame = pl.DataFrame(
        [tuple(r) for r in ledger],
        schema={
            "uscc": pl.String,
            "status": pl.String,
            "paid_fen": pl.Int64,
            "granted_at": pl.Datetime("us", "UTC"),
            "paid_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )
    per_enterprise = ledger_frame.group_by("uscc").agg(
        granted=(pl.col("status") != BenefitStatus.CANCELLED.value).any(),
        paid_fen=pl.col("paid_fen").sum(),
        days_to_payment=((pl.col("paid_at") - pl.col("granted_at")).dt.total_seconds() / 86400).median(),
    )
    rows = eligible_frame.join(per_enterprise, on="uscc", how="full", coalesce=True)
    return rows.select(
        "uscc",
        pl.col("eligible").fill_null(False),
        pl.col("granted").fill_null(False),
        pl.col("paid_fen").fill_null(0),
        "days_to_payment",
    ).cast(_ROW_SCHEMA)  # type: ignore[arg-type]


def with_dimensions(rows: pl.DataFrame, profiles: pl.DataFrame | None) -> pl.DataFrame:
    """``rows`` with region (from the USCC), size_class and industry (from ``profiles``: uscc, size_class,
    industry_section; ``unknown`` where missing)."""
    rows = rows.with_columns(region=pl.col("uscc").str.slice(2, 4))
    if profiles is None or profiles.is_empty():
        return rows.with_columns(size_class=pl.lit(UNKNOWN), industry=pl.lit(UNKNOWN))
    dims = profiles.select("uscc", "size_class", pl.col("industry_section").alias("industry")).unique("uscc")
    return rows.join(dims, on="uscc", how="left").with_columns(
        pl.col("size_class").fill_null(UNKNOWN), pl.col("industry").fill_null(UNKNOWN)
    )


def _table(rows: pl.DataFrame, dimension: str | None) -> pl.DataFrame:
    keys = [dimension] if dimension else []
    aggregations = [
        pl.col("eligible").sum().alias("eligible"),
        pl.col("granted").sum().alias("granted"),
        (pl.col("paid_fen") > 0).sum().alias("paid"),
        pl.col("paid_fen").sum().alias("paid_fen"),
        pl.col("days_to_payment").filter(pl.col("paid_fen") > 0).median().round(1).alias("median_days_to_payment"),
    ]
    if not keys:
        return rows.select(aggregations)
    return rows.group_by(keys).agg(aggregations).sort(keys)


def _hidden(counts: list[int], threshold: int) -> set[int]:
    """Which cells of one column to hide: every count from 1 to threshold-1, then the smallest others until
    the hidden ones hold at least ``threshold`` enterprises together (or every cell is hidden)."""
    hidden = {i for i, n in enumerate(counts) if 0 < n < threshold}
    order = sorted((n, i) for i, n in enumerate(counts) if i not in hidden and n > 0)
    while hidden and sum(counts[i] for i in hidden) < threshold and order:
        hidden.add(order.pop(0)[1])
    return hidden


def _suppress(table: pl.DataFrame, total: dict[str, int], threshold: int) -> list[dict[str, object]]:
    cells = table.to_dicts()
    for measure in MEASURES:
        counts = [int(c[measure]) for c in cells]
        hidden = set(range(len(cells))) if 0 < total[measure] < threshold else _hidden(counts, threshold)
        for i in hidden:
            cells[i][measure] = None
            if measure == "paid":  # the money and the time of fewer than threshold paid enterprises
                cells[i]["paid_fen"] = cells[i]["median_days_to_payment"] = None
    return cells


def publish(
    rows: pl.DataFrame,
    *,
    dimension: str | None = None,
    budget_fen: int | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> dict[str, object]:
    """The published figures of ``rows`` (``with_dimensions``): the total and, with ``dimension``, one row per
    category, small cells suppressed. The total paid is compared with the budget when there is one."""
    if dimension is not None and dimension not in DIMENSIONS:
        raise ValueError(f"dimension: expected one of {', '.join(DIMENSIONS)}, found {dimension!r}")
    if threshold < 2:
        raise ValueError(f"threshold: expected at least 2 enterprises, found {threshold}")
    raw_total = _table(rows, None).to_dicts()[0]
    total_counts = {m: int(raw_total[m]) for m in MEASURES}
    (total,) = _suppress(_table(rows, None), total_counts, threshold)
    out: dict[str, object] = {"threshold": threshold, "total": total, "budget_fen": budget_fen}
    out["budget_used"] = (
        round(int(total["paid_fen"]) / budget_fen, 4) if budget_fen and total["paid_fen"] is not None else None
    )
    if dimension is not None:
        out["dimension"] = dimension
        out["cells"] = _suppress(_table(rows, dimension), total_counts, threshold)
    return out
