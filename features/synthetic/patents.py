"""Patents held by enterprises: concentrated in innovative industries and high-tech firms.

Patent numbers follow the Chinese application number: 'CN' + filing year + type digit (1 invention,
2 utility model, 3 design) + a 7-digit serial + '.' + check digit.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from features.registries.schema import PATENT_TYPES
from features.synthetic.codes import Serials, ascii_matrix, digits, strings
from features.synthetic.dates import DAYS_PER_YEAR, date_series, day, year_of
from features.synthetic.enterprises import NOT_INNOVATIVE, Firms

__all__ = ["PATENT_SERIALS", "patent_numbers", "patents"]

HOLDER_SHARE = 0.15  # enterprises holding patents (guess; more in C, I, M and all high-tech firms)
MEAN_PATENTS = {"other": 2.2, "high_tech": 8.0}  # geometric counts
TYPE_SHARE = {"other": (0.21, 0.56, 0.23), "high_tech": (0.32, 0.56, 0.12)}  # invention, utility model, design
FILING_YEARS = 12  # filings reach back this far before the snapshot
GRANT_DAYS = {"invention": (548, 1096), "utility_model": (183, 366), "design": (183, 366)}  # 18-36 / 6-12 months
PATENT_SERIALS = 10**7
# Check digit of the 12-digit application number: weights 2-9, 2-5, modulo 11, 10 -> X (unverified reading).
_CHECK_WEIGHTS = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])


def patent_numbers(year: np.ndarray, kind: np.ndarray, serial: np.ndarray) -> pl.Series:
    body = np.concatenate([digits(year, 10, 4), (kind + 1)[:, None], digits(serial, 10, 7)], axis=1)
    check = (body @ _CHECK_WEIGHTS) % 11
    mat = np.empty((len(year), 16), dtype=np.uint8)
    mat[:, :2] = ascii_matrix(["CN"])
    mat[:, 2:14] = ord("0") + body
    mat[:, 14] = ord(".")
    mat[:, 15] = np.where(check == 10, ord("X"), ord("0") + check)
    return strings(mat)


def patents(f: Firms, end: date, rng: np.random.Generator, serials: Serials) -> pl.DataFrame:
    end_day = day(end)
    score = f.innovation + rng.standard_normal(f.n) + 10.0 * f.high_tech
    holders = np.zeros(f.n, dtype=bool)
    k = round(HOLDER_SHARE * f.n)
    if k:
        holders[np.argpartition(-score, k - 1)[:k]] = True
    holders &= f.innovation > NOT_INNOVATIVE
    mean = (
        np.where(f.high_tech, MEAN_PATENTS["high_tech"], MEAN_PATENTS["other"]) * np.clip(f.staff / 20, 0.5, 5) ** 0.3
    )
    count = np.where(holders, np.minimum(rng.geometric(1 / mean), 300), 0)
    firm = np.repeat(np.arange(f.n), count)
    n = len(firm)

    lo = np.maximum(f.established[firm], end_day - round(FILING_YEARS * DAYS_PER_YEAR))
    filed = lo + (rng.random(n) * (end_day - lo + 1)).astype(np.int64)
    order = np.lexsort((filed, firm))
    firm, filed = firm[order], filed[order]
    u = rng.random(n)
    p = np.where(f.high_tech[firm, None], TYPE_SHARE["high_tech"], TYPE_SHARE["other"])
    kind = (u[:, None] > np.cumsum(p, axis=1)[:, :-1]).sum(axis=1)
    lag_lo, lag_hi = (np.array([GRANT_DAYS[t][i] for t in PATENT_TYPES])[kind] for i in (0, 1))
    granted = filed + lag_lo + (rng.random(n) * (lag_hi - lag_lo)).astype(np.int64)
    return pl.DataFrame(
        [
            f.uscc.gather(firm).alias("uscc"),
            patent_numbers(year_of(filed), kind, serials.take(n)).alias("patent_no"),
            pl.Series("patent_type", PATENT_TYPES).gather(kind),
            date_series("filed_on", filed),
            date_series("granted_on", granted, granted <= end_day),  # still pending at the snapshot
        ]
    )
