"""Monthly social-insurance accounts: insured headcount, unemployment insurance due and paid, claimants.

An account runs from the month after registration (plus a short lag) to the last month the firm was
active, clipped to [start, end]. Headcount follows the firm's hidden staff with a random walk; layoff
episodes make some firms shed staff and send many to claim benefit, so last-year layoff rates spread
across the 5.5 % and 20 % thresholds of the job-retention refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from features.synthetic.dates import DAYS_PER_YEAR, date_series, day, month_of, month_start
from features.synthetic.enterprises import Firms

__all__ = ["Accounts", "si_monthly"]

REGISTRATION_LAG = (0.6, 0.3, 0.1)  # P(account opens 1, 2, 3 months after founding)
WALK_SIGMA = 0.03  # monthly step of the headcount's log random walk
UI_RATE = 0.005  # employer's unemployment-insurance rate on wages (illustrative; real rates vary by province)
WAGE_GROWTH = 1.04  # nominal wage drift per year
CLAIM_RATE = 0.002  # median monthly share of staff leaving to claim benefit (~2.4 % a year)
CLAIM_SPREAD = 0.6  # sigma of its log between firms
LAYOFF_SHARE = 0.05  # firms with a layoff episode in the window (guess)
LAYOFF_RATE = (0.01, 0.04)  # monthly claimant share during an episode
LAYOFF_MONTHS = (6, 13)
ARREARS = {"distressed": 0.30, "other": 0.03}  # firms with some months of unpaid contributions: ~5 % overall
ARREARS_MONTH = 0.2  # share of an arrears firm's months in arrears
ARREARS_NOTHING_PAID = 0.4  # of arrears months, nothing paid at all


@dataclass
class Accounts:
    """Each enterprise's account window (months since 1970-01, empty when last < first) and insured
    person-months, which the hire records scale with."""

    first: np.ndarray
    last: np.ndarray
    person_months: np.ndarray


def windows(f: Firms, start: date, end: date, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    lag = 1 + rng.choice(len(REGISTRATION_LAG), f.n, p=REGISTRATION_LAG)
    first = np.maximum(month_of(day(start)), month_of(f.established) + lag)
    last = np.where(f.status == 0, month_of(day(end)), month_of(f.active_to - 1))
    last = np.where(f.has_si, last, first - 1)
    return first, last


def si_monthly(f: Firms, start: date, end: date, rng: np.random.Generator) -> tuple[pl.DataFrame, Accounts]:
    first, last = windows(f, start, end, rng)
    count = np.maximum(last - first + 1, 0)
    firm = np.repeat(np.arange(f.n, dtype=np.int32), count)
    seg_start = np.repeat(np.cumsum(count) - count, count)
    m0 = month_of(day(start))
    rel = (first[firm] - m0 + (np.arange(len(firm)) - seg_start)).astype(np.int32)  # months since start's month
    del seg_start
    # Whatever depends on the month alone is looked up per month, not computed per row.
    span = np.arange(rel.max() + 1 if len(rel) else 1)
    years_to_end = (month_start(m0 + span) + 14 - f.end) / DAYS_PER_YEAR

    walk = np.cumsum(rng.normal(0.0, WALK_SIGMA, len(firm)))
    has = count > 0
    walk -= np.repeat(walk[(np.cumsum(count) - count)[has]], count[has])  # each account's walk starts at 0
    trend = np.log(f.staff)[firm] + f.growth[firm] * years_to_end[rel]
    log_h = np.maximum(trend, 0.0) + walk  # as ``Firms.staff_at``, plus the walk
    del walk, trend

    # Layoff episode: a run of months with a high claim rate while the headcount shrinks.
    base_rate = CLAIM_RATE * np.exp(CLAIM_SPREAD * rng.standard_normal(f.n))
    rate = base_rate[firm]
    episode = (rng.random(f.n) < LAYOFF_SHARE) & (count > 0)
    ep_start = first - m0 + (rng.random(f.n) * count).astype(np.int64)
    ep_len = rng.integers(*LAYOFF_MONTHS, f.n)
    ep_rate = rng.uniform(*LAYOFF_RATE, f.n)
    rows = np.flatnonzero(episode[firm])
    since = rel[rows] - ep_start[firm[rows]]
    log_h[rows] -= ep_rate[firm[rows]] * np.clip(since, 0, ep_len[firm[rows]])
    rate[rows] += np.where((since >= 0) & (since < ep_len[firm[rows]]), ep_rate[firm[rows]], 0.0)
    headcount = np.maximum(1, np.rint(np.exp(log_h))).astype(np.int32)
    del log_h
    claimants = np.minimum(rng.poisson(headcount * rate), headcount).astype(np.int32)
    del rate

    wage_growth = WAGE_GROWTH**years_to_end
    due = np.round(headcount * f.wage[firm] * wage_growth[rel] * UI_RATE, 2)
    arrears_firm = rng.random(f.n) < np.where(f.distress, ARREARS["distressed"], ARREARS["other"])
    rows = np.flatnonzero(arrears_firm[firm])  # draw only for the few firms in arrears
    rows = rows[rng.random(len(rows)) < ARREARS_MONTH]
    part = np.where(rng.random(len(rows)) < ARREARS_NOTHING_PAID, 0.0, rng.uniform(0.2, 0.95, len(rows)))
    paid = due.copy()
    paid[rows] = np.round(due[rows] * part, 2)

    person_months = np.bincount(firm, weights=headcount, minlength=f.n)
    frame = pl.DataFrame(
        [
            f.uscc.gather(firm).alias("uscc"),
            date_series("month", month_start(m0 + span)[rel]),
            pl.Series("insured_headcount", headcount),
            pl.Series("ui_due", due),
            pl.Series("ui_paid", paid),
            pl.Series("new_ui_claimants", claimants),
        ]
    )
    return frame, Accounts(first, last, person_months)
