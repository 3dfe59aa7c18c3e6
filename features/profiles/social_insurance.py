"""Facts from social insurance (人社): monthly accounts and hire records."""

from __future__ import annotations

from datetime import date

import polars as pl

from features.profiles.money import with_fen, yuan_sum
from features.profiles.periods import last_complete_month, month_index, months_between, years_before

__all__ = ["LAST_YEAR_SUMS", "MAX_PAID_MONTHS", "hire_conditions", "hire_facts", "hired_persons", "monthly_facts"]

# Continuity is tracked as a 64-bit mask of the most recent months, so it is
# counted up to this many months; no policy asks for more than a few years.
MAX_PAID_MONTHS = 64
# Last year's contributions, claims and headcount: zero, not unknown, for an employer social insurance knows
# with no month last year (it insured nobody then; build.py). The layoff rate then stays unknown: 0 / 0.
LAST_YEAR_SUMS = ("ui_paid_last_year", "ui_claimants_last_year", "insured_headcount_avg_last_year")


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
        with_fen(monthly.filter(month_index(pl.col("month")) <= newest), "ui_paid")
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
            last_year_only(yuan_sum("ui_paid", in_last_year)).alias("ui_paid_last_year"),
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


def hire_conditions(as_of: date) -> dict[str, pl.Expr]:
    """Per hire record: whether it counts towards each hire-count fact (the name of the fact → condition).

    One definition for the enterprise's counts (``hire_facts``) and for the persons behind them
    (``hired_persons``: each person once per policy family, matcher/persons).
    """
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

    return {
        "hires_12m": pl.lit(True),
        "hires_12m_contract_1y": year_contract,
        "youth_hires_12m": youth & (months_insured >= 3) & still_insured,
        "priority_hires_12m": priority & still_insured,
        "poverty_hires_12m": poverty & still_insured,
    }


def _in_window(hires: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    return hires.filter((pl.col("hire_date") <= as_of) & (pl.col("hire_date") > years_before(as_of, 1)))


def hired_persons(hires: pl.LazyFrame, as_of: date, facts: list[str]) -> pl.LazyFrame:
    """The persons behind the hire-count ``facts``: one row per (uscc, person_id, fact) counted, with the hire
    date (a person hired twice by one enterprise in the window counts once, at the earlier hire)."""
    conditions = hire_conditions(as_of)
    window = _in_window(hires, as_of)
    parts = [
        window.filter(conditions[f].fill_null(False)).select("uscc", "person_id", "hire_date", fact=pl.lit(f))
        for f in facts
    ]
    if not parts:
        return window.select("uscc", "person_id", "hire_date", fact=pl.lit("")).head(0)
    return (
        pl.concat(parts)
        .group_by("uscc", "person_id", "fact")
        .agg(pl.col("hire_date").min())
        .select("uscc", "person_id", "hire_date", "fact")
    )


def hire_facts(hires: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Counts of people hired in the 12 months up to ``as_of``, by target group."""
    conditions = hire_conditions(as_of)
    return (
        _in_window(hires, as_of)
        .group_by("uscc")
        .agg(
            pl.len().cast(pl.Int32).alias("hires_12m"),
            *(conditions[f].sum().cast(pl.Int32).alias(f) for f in list(conditions)[1:]),
        )
    )
