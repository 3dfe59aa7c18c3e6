"""Facts from social insurance (人社): monthly accounts and hire records."""

from __future__ import annotations

from datetime import date

import polars as pl

from features.profiles.periods import last_complete_month, month_index, months_between, years_before

__all__ = ["MAX_PAID_MONTHS", "hire_facts", "monthly_facts"]

# Continuity is tracked as a 64-bit mask of the most recent months, so it is
# counted up to this many months; no policy asks for more than a few years.
MAX_PAID_MONTHS = 64


def monthly_facts(monthly: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Payment continuity, arrears, headcount and last year's layoffs, in one pass.

    ``back`` counts months back from the last complete month (0 = that month).
    A month paid in full sets bit ``back`` of a mask; the run of months paid in
    full up to now is then the mask's trailing ones. A missing month breaks the
    run exactly like an unpaid one, with no sort or window over the history.
    """
    newest = last_complete_month(as_of)
    last_year = as_of.year - 1
    back = pl.lit(newest, dtype=pl.Int32) - month_index(pl.col("month"))
    paid_in_full = (pl.col("ui_paid") >= pl.col("ui_due")) & (pl.col("ui_due") > 0)
    in_last_year = pl.col("month").dt.year() == last_year
    bit = pl.lit(2, dtype=pl.UInt64).pow(back.cast(pl.UInt64))
    months_last_year = in_last_year.sum()

    def last_year_only(e: pl.Expr) -> pl.Expr:
        return pl.when(months_last_year > 0).then(e).otherwise(None)

    return (
        monthly.filter(month_index(pl.col("month")) <= newest)
        .group_by("uscc")
        .agg(
            pl.when(paid_in_full & (back < MAX_PAID_MONTHS))
            .then(bit)
            .otherwise(pl.lit(0, dtype=pl.UInt64))
            .bitwise_or()
            .bitwise_trailing_ones()
            .cast(pl.Int32)
            .alias("ui_paid_months"),
            ((pl.col("ui_paid") < pl.col("ui_due")) & (back < 12)).any().alias("ui_arrears_12m"),
            last_year_only(pl.col("ui_paid").filter(in_last_year).sum()).alias("ui_paid_last_year"),
            pl.col("insured_headcount").filter(back == 0).first().alias("insured_headcount"),
            pl.col("insured_headcount").filter(in_last_year).mean().alias("insured_headcount_avg_last_year"),
            last_year_only(pl.col("new_ui_claimants").filter(in_last_year).sum())
            .cast(pl.Int32)
            .alias("ui_claimants_last_year"),
        )
        .with_columns(
            layoff_rate_last_year=pl.when(pl.col("insured_headcount_avg_last_year") > 0)
            .then(pl.col("ui_claimants_last_year") / pl.col("insured_headcount_avg_last_year"))
            .otherwise(None)
        )
    )


def hire_facts(hires: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Counts of people hired in the 12 months up to ``as_of``, by target group."""
    since = years_before(as_of, 1)
    stop = pl.col("insured_until")
    still_insured = stop.is_null() | (stop > as_of)
    insured_to = pl.when(still_insured).then(pl.lit(as_of)).otherwise(stop)
    months_insured = months_between(pl.col("hire_date"), insured_to)
    hire_year = pl.col("hire_date").dt.year()
    birth = pl.col("birth_date")
    age = (
        hire_year
        - birth.dt.year()
        - (
            pl.col("hire_date").dt.month().cast(pl.Int32) * 100 + pl.col("hire_date").dt.day()
            < birth.dt.month().cast(pl.Int32) * 100 + birth.dt.day()
        ).cast(pl.Int32)
    )
    grad = pl.col("graduate_year")
    unemployed = pl.col("registered_unemployed")
    year_contract = pl.col("contract_months") >= 12

    youth = (
        (grad == hire_year).fill_null(False)
        | (grad.is_between(hire_year - 2, hire_year - 1) & unemployed).fill_null(False)
        | (unemployed & age.is_between(16, 24))
    ) & (pl.col("contract_months") > 0)
    priority = (pl.col("poverty_alleviated") | (unemployed & (pl.col("unemployed_months") >= 6)).fill_null(False)) & (
        year_contract
    )
    poverty = pl.col("poverty_alleviated") & year_contract & (months_insured >= 6)

    def count(cond: pl.Expr) -> pl.Expr:
        return cond.sum().cast(pl.Int32)

    return (
        hires.filter((pl.col("hire_date") <= as_of) & (pl.col("hire_date") > since))
        .group_by("uscc")
        .agg(
            pl.len().cast(pl.Int32).alias("hires_12m"),
            count(year_contract).alias("hires_12m_contract_1y"),
            count(youth & (months_insured >= 3) & still_insured).alias("youth_hires_12m"),
            count(priority & still_insured).alias("priority_hires_12m"),
            count(poverty & still_insured).alias("poverty_hires_12m"),
        )
    )
