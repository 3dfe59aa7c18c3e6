"""Facts from business registration (市场监管)."""

from __future__ import annotations

from datetime import date

import polars as pl

__all__ = ["business_facts", "established_by"]


def established_by(as_of: date) -> pl.Expr:
    """Whether the enterprise existed on ``as_of``: only those get a profile (``left_out`` counts the others)."""
    return pl.col("established_on") <= as_of


def business_facts(business: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """One row per enterprise established on or before ``as_of``.

    The extract is a current snapshot; only the status carries its own date,
    so a status that took effect after ``as_of`` reads as still operating.
    """
    status = (
        pl.when(pl.col("status_since") > as_of).then(pl.lit("operating")).otherwise(pl.col("status")).alias("status")
    )
    code = pl.col("industry_code")
    return business.filter(established_by(as_of)).select(
        "uscc",
        "name",
        "enterprise_type",
        status,
        "established_on",
        ((pl.lit(as_of) - pl.col("established_on")).dt.total_days() / 365.25).alias("age_years"),
        "registered_capital",
        "industry_code",
        code.str.slice(0, 1).alias("industry_section"),
        code.str.slice(0, 3).alias("industry_division"),
        "division_code",
        "labour_dispatch",
    )
