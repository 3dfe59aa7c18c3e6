"""Calendar arithmetic shared by the profile builders, relative to ``as_of``."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

__all__ = ["last_complete_month", "month_index", "months_between", "years_before"]


def month_index(d: pl.Expr) -> pl.Expr:
    """Months since year 0: consecutive months differ by one."""
    return d.dt.year().cast(pl.Int32) * 12 + d.dt.month().cast(pl.Int32) - 1


def last_complete_month(as_of: date) -> int:
    """Month index of the last month whose last day is on or before ``as_of``."""
    nxt = as_of + timedelta(days=1)
    return nxt.year * 12 + nxt.month - 1 - 1


def years_before(as_of: date, years: int) -> date:
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - years, day=28)


def months_between(start: pl.Expr, end: pl.Expr) -> pl.Expr:
    """Whole months from ``start`` to ``end`` (a month counts once its day-of-month is reached)."""
    short = (end.dt.day() < start.dt.day()).cast(pl.Int32)
    return month_index(end) - month_index(start) - short
