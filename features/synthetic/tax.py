"""Annual income-tax filings and tax credit ratings.

One filing per full calendar year an enterprise existed in [start.year - 1, end.year - 1], received
between January and May of the next year (a few late), and kept only if received by the snapshot
date. Staff, revenue and assets follow the enterprise's hidden size, so the size class derived from
the filing agrees with its social-insurance headcount.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from features.registries.schema import CREDIT_RATINGS, ENTERPRISE_TYPES
from features.synthetic.dates import date_series, day, month_start, year_of, year_start
from features.synthetic.enterprises import Firms

__all__ = ["Filings", "tax_credit", "tax_filings"]

LATE_FILING = 0.03  # filed after the 31 May deadline (guess)
DORMANT_YEAR = 0.02  # firm-years with no revenue at all, beyond the shell companies (guess)
REVENUE_NOISE, STAFF_NOISE, ASSET_NOISE = 0.2, 0.08, 0.1  # sigma of the log, year to year
PRICE_GROWTH = 1.03  # nominal revenue drift per year
MARGIN = (0.065, 0.06, 0.05)  # taxable income / revenue: mean, sigma between firms, sigma between years: ~25 % losses
DISTRESSED_MARGIN = -0.05
RD_RATIO_HIGH_TECH = (0.03, 0.08)  # R&D / revenue for certified firms (high-tech rule: 3-5 % minimum)
RD_RATIO_OTHER = (0.002, 0.03)
VAT_SMALL_SCALE_LIMIT = 5_000_000  # annual sales at or below which a firm may stay a small-scale VAT payer
VAT_GENERAL_BY_CHOICE = 0.1  # small firms that register as general VAT payers anyway
# Ratings among firms that are not M (new or without revenue): A:B:C:D = 20:50:10:5 (brief; M takes ~15 %).
RATING_SHARE = {"D": 5, "C": 10, "B": 50, "A": 20}


@dataclass
class Filings:
    """Per-filing facts the credit rating needs."""

    firm: np.ndarray
    year: np.ndarray
    filed_on: np.ndarray
    revenue: np.ndarray
    taxable_income: np.ndarray
    employees: np.ndarray


def _full_years(f: Firms, start: date, end: date) -> tuple[np.ndarray, np.ndarray]:
    """First and last calendar year each enterprise existed in full, within the filing window."""
    est_year = year_of(f.established)
    first = est_year + (f.established > year_start(est_year))
    to_year = year_of(f.active_to)
    last = to_year - (f.active_to < year_start(to_year + 1) - 1)
    return np.maximum(first, start.year - 1), np.minimum(last, end.year - 1)


def tax_filings(f: Firms, start: date, end: date, rng: np.random.Generator) -> tuple[pl.DataFrame, Filings]:
    lo, hi = _full_years(f, start, end)
    count = np.where(f.files_tax, np.maximum(hi - lo + 1, 0), 0)
    firm = np.repeat(np.arange(f.n), count)
    year = lo[firm] + np.arange(len(firm)) - np.repeat(np.cumsum(count) - count, count)

    # Most file in the settlement season (1 Jan - 31 May), bunching towards the deadline.
    season = year_start(year + 1)
    filed = season + np.where(
        rng.random(len(firm)) < LATE_FILING,
        rng.integers(151, 365, len(firm)),
        (rng.beta(2.0, 1.2, len(firm)) * 151).astype(np.int64),
    )
    closed = f.status[firm] != 0
    filed = np.where(closed, np.minimum(filed, f.status_since[firm]), filed)  # deregistering settles tax first
    keep = filed <= day(end)
    firm, year, filed = firm[keep], year[keep], filed[keep]
    n = len(firm)

    staff = f.staff_at(firm, year_start(year) + 182)
    shell = f.shell[firm]
    employees = np.where(shell, rng.integers(0, 2, n), np.rint(staff * np.exp(STAFF_NOISE * rng.standard_normal(n))))
    dormant = shell | (rng.random(n) < DORMANT_YEAR)
    drift = PRICE_GROWTH ** (year - end.year)
    revenue = staff * f.revenue_per_employee[firm] * drift * np.exp(REVENUE_NOISE * rng.standard_normal(n))
    revenue = np.where(dormant, 0.0, np.round(revenue, 2))

    firm_margin = np.where(f.distress, DISTRESSED_MARGIN, MARGIN[0]) + MARGIN[1] * rng.standard_normal(f.n)
    margin = firm_margin[firm] + MARGIN[2] * rng.standard_normal(n)
    costs_only = -np.round(rng.uniform(0, 30_000, n), 2) * (rng.random(n) < 0.6)  # a dormant year's running costs
    taxable = np.where(dormant, costs_only, np.round(revenue * margin, 2))

    capital = np.nan_to_num(f.registered_capital[firm], nan=50.0) * 10_000
    assets = revenue * f.assets_per_revenue[firm] * np.exp(ASSET_NOISE * rng.standard_normal(n))
    assets = np.round(np.where(dormant, capital * rng.uniform(0.05, 0.5, n), assets), 2)

    ratio = np.where(f.high_tech[firm], rng.uniform(*RD_RATIO_HIGH_TECH, n), rng.uniform(*RD_RATIO_OTHER, n)) * np.exp(
        0.2 * rng.standard_normal(n)
    )
    rd = np.where(f.rd[firm], np.round(revenue * ratio, 2), 0.0)

    individual = f.kind[firm] == ENTERPRISE_TYPES.index("individual_business")
    small_scale = (revenue <= VAT_SMALL_SCALE_LIMIT) & (individual | (rng.random(n) >= VAT_GENERAL_BY_CHOICE))

    frame = pl.DataFrame(
        [
            f.uscc.gather(firm).alias("uscc"),
            pl.Series("year", year, dtype=pl.Int32),
            date_series("filed_on", filed),
            pl.Series("revenue", revenue),
            pl.Series("taxable_income", taxable),
            pl.Series("total_assets", assets),
            pl.Series("employees", employees, dtype=pl.Int32),
            pl.Series("rd_expense", rd),
            pl.Series("vat_small_scale", small_scale),
        ]
    )
    return frame, Filings(firm, year, filed, revenue, taxable, employees)


def tax_credit(f: Firms, filings: Filings, end: date, rng: np.random.Generator) -> pl.DataFrame:
    """One rating per year filed, published in April of the next year."""
    april = month_start((filings.year + 1 - 1970) * 12 + 3)
    rated = april + rng.integers(0, 30, len(filings.year))
    keep = rated <= day(end)
    firm, year, rated = filings.firm[keep], filings.year[keep], rated[keep]
    revenue, taxable, late = filings.revenue[keep], filings.taxable_income[keep], filings.filed_on[keep]
    late = late > year_start(year + 1) + 150
    new = f.established[firm] > year_start(year - 1)  # first full year after founding
    m = (revenue == 0) | new

    n = len(firm)
    score = rng.standard_normal(n) + 0.25 * np.log1p(filings.employees[keep]) + 0.6 * (taxable > 0)
    score -= 2.0 * f.distress[firm] + 1.0 * late
    # Cut the scores of rated (non-M) firms at quantiles, so the shares hold at any size.
    rating = np.full(n, CREDIT_RATINGS.index("M"))
    cuts = np.cumsum(list(RATING_SHARE.values())) / sum(RATING_SHARE.values())
    if (~m).any():
        bounds = np.quantile(score[~m], cuts[:-1])
        grade = np.searchsorted(bounds, score)
        rating = np.where(m, rating, np.array([CREDIT_RATINGS.index(g) for g in RATING_SHARE])[grade])
    return pl.DataFrame(
        [
            f.uscc.gather(firm).alias("uscc"),
            pl.Series("year", year, dtype=pl.Int32),
            pl.Series("rating", CREDIT_RATINGS).gather(rating),
            date_series("rated_on", rated),
        ]
    )
