"""Whole-array date arithmetic on day numbers.

Dates are int64 days since 1970-01-01 (what a polars Date holds), so every table is built with
numpy arithmetic and turned into a Date column only at the end. Months are counted from 1970-01.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

__all__ = [
    "DAYS_PER_YEAR",
    "add_months",
    "date_series",
    "day",
    "month_of",
    "month_start",
    "with_nulls",
    "year_of",
    "year_start",
]

_EPOCH = date(1970, 1, 1)
DAYS_PER_YEAR = 365.2425


def day(d: date) -> int:
    return (d - _EPOCH).days


def _as_days(days: np.ndarray | int) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


def year_of(days: np.ndarray) -> np.ndarray:
    return _as_days(days).astype("datetime64[Y]").astype(np.int64) + 1970


def month_of(days: np.ndarray | int) -> np.ndarray:
    """Months since 1970-01 of each day."""
    return _as_days(days).astype("datetime64[M]").astype(np.int64)


def month_start(months: np.ndarray | int) -> np.ndarray:
    months = np.asarray(months, dtype=np.int64)
    if months.size < 1024:
        return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    lo = months.min()  # long arrays span few months: look each one up
    table = np.arange(lo, months.max() + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return table[months - lo]


def year_start(years: np.ndarray | int) -> np.ndarray:
    return (np.asarray(years, dtype=np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def add_months(days: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """The same day of the month ``k`` months later, clipped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    months = month_of(days)
    day_of_month = np.asarray(days, dtype=np.int64) - month_start(months)
    target = months + k
    length = month_start(target + 1) - month_start(target)
    return month_start(target) + np.minimum(day_of_month, length - 1)


def date_series(name: str, days: np.ndarray, valid: np.ndarray | None = None) -> pl.Series:
    """A polars Date column; ``valid`` False makes that row null."""
    s = pl.Series(name, np.asarray(days, dtype=np.int32)).cast(pl.Date)
    return s if valid is None else with_nulls(s, valid)


def with_nulls(s: pl.Series, valid: np.ndarray) -> pl.Series:
    if valid.all():
        return s
    return s.zip_with(pl.Series(valid), pl.Series(s.name, [None], dtype=s.dtype).extend_constant(None, len(s) - 1))
