"""Per-person hire records: who was hired, when, on what contract, and whether still insured.

Hires scale with each account's insured person-months. The person traits the hiring subsidies test
(age, graduation year, registered unemployment, poverty alleviation) are drawn with youth
over-represented; a few persons are hired by two firms, carrying the same ID and birth date.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from features.synthetic.codes import PersonIds
from features.synthetic.dates import DAYS_PER_YEAR, date_series, day, month_start, year_of
from features.synthetic.enterprises import Firms
from features.synthetic.social_insurance import Accounts

__all__ = ["si_hires"]

TURNOVER = 0.16  # median hires per insured staff per year at a 10-person firm (guess)
TURNOVER_SIZE = (-0.5, 0.12, 1.3)  # elasticity to staff, clipped: large firms turn over far less
TURNOVER_SPREAD = 0.3
# Age at hire: (from, to, share); 16-24-year-olds are over-represented among hires.
AGE_BANDS = ((16, 18, 0.02), (18, 25, 0.33), (25, 35, 0.38), (35, 45, 0.19), (45, 60, 0.08))
GRADUATE = {"20-30": 0.68, "30-35": 0.10}  # chance a hire of that age is a recent graduate (~30 % overall)
YEARS_SINCE_GRADUATION = (0.45, 0.30, 0.13, 0.07, 0.05)  # 0, 1, 2, 3, 4 years before the hire
UNEMPLOYED = {"<25": 0.07, "25-45": 0.11, "45+": 0.15}  # registered unemployed when hired (~10 %)
UNEMPLOYED_MEAN_MONTHS = 7.0
POVERTY_ALLEVIATED = 0.03
CONTRACT_MONTHS = {6: 0.05, 12: 0.42, 24: 0.15, 36: 0.33, 60: 0.05}
STAY_MEAN_MONTHS = 48  # exponential stay; hires still insured at the snapshot have no stop date
SECOND_FIRM = 0.03  # hires of a person already hired by another firm


def si_hires(f: Firms, accounts: Accounts, end: date, rng: np.random.Generator, ids: PersonIds) -> pl.DataFrame:
    end_day = day(end)
    elasticity, low, high = TURNOVER_SIZE
    size_factor = np.clip((f.staff / 10) ** elasticity, low, high)
    turnover = TURNOVER * size_factor * np.exp(TURNOVER_SPREAD * rng.standard_normal(f.n))
    count = rng.poisson(accounts.person_months * turnover / 12)
    firm = np.repeat(np.arange(f.n), count)
    n = len(firm)
    lo = month_start(accounts.first)[firm]
    hi = np.where(f.status[firm] == 0, end_day, f.active_to[firm] - 1)  # a closed firm's last hire precedes closing
    hire = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    order = np.lexsort((hire, firm))
    firm, hire = firm[order], hire[order]

    band = rng.choice(len(AGE_BANDS), n, p=[b[2] for b in AGE_BANDS])
    low, high = np.array([b[0] for b in AGE_BANDS])[band], np.array([b[1] for b in AGE_BANDS])[band]
    age = low + rng.random(n) * (high - low)
    birth = hire - np.floor(age * DAYS_PER_YEAR).astype(np.int64) - 1  # at least 16 full years before the hire
    hire_year, birth_year = year_of(hire), year_of(birth)

    graduate_p = np.select([(age >= 20) & (age < 30), (age >= 30) & (age < 35)], list(GRADUATE.values()), 0.0)
    graduate = rng.random(n) < graduate_p
    since = rng.choice(len(YEARS_SINCE_GRADUATION), n, p=YEARS_SINCE_GRADUATION)
    graduate_year = np.clip(hire_year - since, birth_year + 19, hire_year)

    unemployed_p = np.select([age < 25, age < 45], [UNEMPLOYED["<25"], UNEMPLOYED["25-45"]], UNEMPLOYED["45+"])
    unemployed = rng.random(n) < unemployed_p
    months_unemployed = np.minimum(24, 1 + np.floor(rng.exponential(UNEMPLOYED_MEAN_MONTHS, n))).astype(np.int64)
    poverty = rng.random(n) < POVERTY_ALLEVIATED
    contract = rng.choice(list(CONTRACT_MONTHS), n, p=list(CONTRACT_MONTHS.values()))

    stop = hire + 1 + np.floor(rng.exponential(STAY_MEAN_MONTHS * 30.44, n)).astype(np.int64)
    stop = np.where(f.status[firm] == 0, stop, np.minimum(stop, f.active_to[firm]))
    person = ids.mint(n)

    # A few persons work for two firms: copy the person's traits onto a hire at another firm.
    is_second = rng.random(n) < SECOND_FIRM
    second, pool = np.flatnonzero(is_second), np.flatnonzero(~is_second)
    donor = rng.choice(pool, min(len(second), len(pool)), replace=False)
    second = second[: len(donor)]
    age_then = (hire[second] - birth[donor]) / DAYS_PER_YEAR
    ok = (firm[second] != firm[donor]) & (age_then >= 16) & (age_then < 60)
    ok &= ~graduate[donor] | (graduate_year[donor] <= hire_year[second])
    second, donor = second[ok], donor[ok]
    birth[second], graduate[second], poverty[second] = birth[donor], graduate[donor], poverty[donor]
    graduate_year[second] = graduate_year[donor]
    person = person.scatter(second, person.gather(donor))
    # The earlier job ends before the later one starts.
    earlier = np.where(hire[donor] <= hire[second], donor, second)
    later = np.where(hire[donor] <= hire[second], second, donor)
    left = np.maximum(hire[earlier] + 1, hire[later] - rng.integers(1, 31, len(later)))
    stop[earlier] = np.minimum(stop[earlier], left)

    return pl.DataFrame(
        [
            f.uscc.gather(firm).alias("uscc"),
            person.alias("person_id"),
            date_series("birth_date", birth),
            date_series("hire_date", hire),
            pl.Series("contract_months", contract, dtype=pl.Int32),
            date_series("insured_until", stop, stop <= end_day),
            pl.Series("graduate_year", np.where(graduate, graduate_year, 0), dtype=pl.Int32).scatter(
                np.flatnonzero(~graduate), None
            ),
            pl.Series("registered_unemployed", unemployed),
            pl.Series("unemployed_months", months_unemployed, dtype=pl.Int32).scatter(
                np.flatnonzero(~unemployed), None
            ),
            pl.Series("poverty_alleviated", poverty),
        ]
    )
