"""Cards (红黄牌): green while a matter is within ``yellow_share`` of its limit, yellow past it, red once overdue.

Computed for whole frames of matters at once: the limit of each (its step's, or its policy's override) comes
from a join, the working days used from the calendar's table, never a loop over matters.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from matcher.supervision.calendar import WorkingCalendar
from matcher.supervision.limits import PER_POLICY, Step, TimeLimits

__all__ = ["COLOURS", "URGENCY", "card", "with_limits"]

COLOURS = ("green", "yellow", "red")
URGENCY = {"red": 0, "yellow": 1, "green": 2}


def _limits(limits: TimeLimits) -> tuple[pl.DataFrame, pl.DataFrame]:
    steps = pl.DataFrame({"step": [s.value for s in Step], "limit_days": [limits.limit(s) for s in Step]})
    overrides = pl.DataFrame(
        [(s.value, p, limits.limit(s, p)) for p in limits.policies for s in PER_POLICY],
        schema={"step": pl.String, "policy_id": pl.String, "policy_limit": pl.Int64},
        orient="row",
    )
    return steps, overrides


def with_limits(frame: pl.DataFrame, limits: TimeLimits) -> pl.DataFrame:
    """``frame`` (step, policy_id) with ``limit_days``: its policy's override, else its step's."""
    steps, overrides = _limits(limits)
    return (
        frame.join(steps, on="step", how="left")
        .join(overrides, on=["step", "policy_id"], how="left")
        .with_columns(limit_days=pl.coalesce("policy_limit", "limit_days"))
        .drop("policy_limit")
    )


def card(frame: pl.DataFrame, *, calendar: WorkingCalendar, limits: TimeLimits, now: datetime) -> pl.DataFrame:
    """``frame`` (open matters: step, policy_id, opened_at) with ``limit_days``, ``used_days``, ``share``, ``due_at``
    (null when past the calendar's known years), ``colour``, ordered most urgent first."""
    frame = with_limits(frame, limits)
    used = calendar.used(frame["opened_at"], now)
    due = calendar.dues(frame["opened_at"], frame["limit_days"].to_numpy())
    frame = frame.with_columns(used_days=used.round(2), due_at=due.dt.convert_time_zone("UTC"))
    share = pl.col("used_days") / pl.col("limit_days")
    colour = (
        pl.when(pl.col("used_days").is_null())
        .then(None)
        .when(pl.col("used_days") >= pl.col("limit_days"))
        .then(pl.lit("red"))
        .when(share >= limits.yellow_share)
        .then(pl.lit("yellow"))
        .otherwise(pl.lit("green"))
    )
    return (
        frame.with_columns(share=share.round(3), colour=colour)
        .with_columns(urgency=pl.col("colour").replace_strict(URGENCY, default=0, return_dtype=pl.Int8))
        .sort(["urgency", "share", "opened_at"], descending=[False, True, False], nulls_last=True)
        .drop("urgency")
    )
