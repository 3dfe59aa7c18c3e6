"""Handling times (办理时长) of handled matters, in working days: count, median, 90th percentile, how many were
late, per step, and per office, policy and month when asked. Whole frames, grouped in polars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl
from sqlalchemy import Connection

from matcher.supervision.calendar import WorkingCalendar
from matcher.supervision.cards import with_limits
from matcher.supervision.limits import BY, TimeLimits
from matcher.supervision.waiting import matters

__all__ = ["BY", "handling_times"]


def handling_times(
    connection: Connection,
    *,
    calendar: WorkingCalendar,
    limits: TimeLimits,
    by: Sequence[str] = ("step",),
    since: date | None = None,
    until: date | None = None,
) -> pl.DataFrame:
    """One row per group of ``by`` (a subset of ``BY``; ``month`` is the month handled, YYYY-MM), with ``handled``,
    ``median_days``, ``p90_days`` and ``late`` (handled after the limit)."""
    unknown = set(by) - set(BY)
    if unknown:
        raise ValueError(f"by: expected some of {', '.join(BY)}, found {', '.join(sorted(unknown))}")
    frame = matters(connection, office_digits=limits.office_digits).filter(pl.col("handled_at").is_not_null())
    if since is not None:
        frame = frame.filter(pl.col("handled_at").dt.date() >= since)
    if until is not None:
        frame = frame.filter(pl.col("handled_at").dt.date() <= until)
    # The limit of each matter (its policy's, when overridden) comes from the same join the cards use.
    limited = with_limits(frame, limits)
    limited = limited.with_columns(
        days=calendar.used(limited["opened_at"], limited["handled_at"]),
        month=pl.col("handled_at").dt.convert_time_zone("Asia/Shanghai").dt.strftime("%Y-%m"),
    )
    groups = list(by)
    aggregations = [
        pl.len().alias("handled"),
        pl.col("days").median().round(2).alias("median_days"),
        pl.col("days").quantile(0.9, interpolation="linear").round(2).alias("p90_days"),
        (pl.col("days") >= pl.col("limit_days")).sum().alias("late"),
    ]
    if not groups:
        return limited.select(aggregations)
    return limited.group_by(groups).agg(aggregations).sort(groups, nulls_last=True)
