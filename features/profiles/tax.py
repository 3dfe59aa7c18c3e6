"""Facts from the tax registry (税务): annual filings and credit ratings."""

from __future__ import annotations

from datetime import date

import polars as pl

from features.profiles.money import with_fen, yuan_sum

__all__ = ["credit_rating_facts", "filing_facts"]


def _share(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    return pl.when(whole > 0).then(part / whole).otherwise(None)


def filing_facts(filings: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Last calendar year's filing, and R&D intensity over the last three years.

    A filing counts only once it was received (``filed_on <= as_of``): before
    the filing deadline last year's figures are unknown, not zero.
    """
    last_year = as_of.year - 1
    known = filings.filter((pl.col("filed_on") <= as_of) & pl.col("year").is_between(last_year - 2, last_year))
    is_last = pl.col("year") == last_year

    def last(col: str) -> pl.Expr:
        return pl.col(col).filter(is_last).first()

    return (
        with_fen(known, "rd_expense", "revenue")
        .group_by("uscc")
        .agg(
            last("revenue").alias("revenue_last_year"),
            last("taxable_income").alias("taxable_income_last_year"),
            last("total_assets").alias("total_assets_last_year"),
            last("employees").alias("employees_last_year"),
            last("rd_expense").alias("rd_expense_last_year"),
            last("vat_small_scale").alias("vat_small_scale"),
            _share(yuan_sum("rd_expense"), yuan_sum("revenue")).alias("rd_ratio_3y"),
        )
        .with_columns(rd_ratio_last_year=_share(pl.col("rd_expense_last_year"), pl.col("revenue_last_year")))
    )


def credit_rating_facts(ratings: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """The latest rating published by ``as_of``."""
    return (
        ratings.filter(pl.col("rated_on") <= as_of)
        .group_by("uscc")
        .agg(pl.col("rating").sort_by("year").last().alias("tax_credit_rating"))
    )
