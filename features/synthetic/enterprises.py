"""The population of enterprises: what each one is, and the hidden traits the other registries report on.

``Firms`` holds one numpy array per trait, one element per enterprise. Registered facts (type,
dates, status, industry, district) go to the business table; hidden traits (size, growth, revenue
per employee, distress, innovation) drive the tax, social-insurance and list tables so they agree
with each other the way real registries roughly do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from features.registries.schema import ENTERPRISE_TYPES, STATUSES
from features.standards.divisions import DISTRICTS
from features.synthetic import industries as ind
from features.synthetic.codes import GB32100_FROM, UsccMinter, ascii_matrix, strings
from features.synthetic.dates import DAYS_PER_YEAR, date_series, day, year_start
from features.synthetic.names import enterprise_names

__all__ = ["FIRST_YEAR", "TYPE_SHARE", "USCC_PREFIX", "Firms", "business_frame", "draw_firms"]

T = {name: i for i, name in enumerate(ENTERPRISE_TYPES)}

# Share of each entity type (guess, per the project brief; real registers hold far more individual businesses).
TYPE_SHARE = {
    "limited_company": 0.73, "individual_business": 0.10, "sole_proprietorship": 0.045, "partnership": 0.035,
    "joint_stock_company": 0.02, "cooperative": 0.02, "public_institution": 0.02, "government_agency": 0.01,
    "social_organization": 0.015, "law_firm": 0.004, "accounting_firm": 0.001,
}  # fmt: skip
# GB 32100 positions 1-2: 9x market regulation, 1x 机构编制 (11 agency, 12 public institution), 51 民政.
# Law firms really carry 31 (司法行政); the brief keeps them under market regulation's 91.
USCC_PREFIX = {"individual_business": "92", "cooperative": "93", "public_institution": "12",
               "government_agency": "11", "social_organization": "51"}  # fmt: skip
MARKET_TYPES = [t for t in ENTERPRISE_TYPES if USCC_PREFIX.get(t, "91").startswith("9")]
COMPANY_TYPES = ["limited_company", "joint_stock_company"]

FIRST_YEAR = 1995  # earliest establishment drawn
GROWTH_OF_FOUNDINGS = 1.12  # new registrations grew ~12 % a year (guess from SAMR yearly totals)
# Staff by entity type: (median, sigma of the log), before the sector factor (guess, tuned so the 2011 size
# standard gives ~75 % micro, ~20 % small, ~4 % medium, <1 % large).
STAFF = {"limited_company": (3.5, 1.45), "joint_stock_company": (60, 1.3), "sole_proprietorship": (2, 0.8),
         "partnership": (3, 1.0), "individual_business": (1.5, 0.6), "cooperative": (5, 0.8),
         "public_institution": (40, 1.1), "government_agency": (50, 0.9), "social_organization": (4, 1.0),
         "law_firm": (10, 0.9), "accounting_firm": (12, 0.9)}  # fmt: skip
# Established SMEs among limited companies: (share, median, sigma). A single lognormal cannot give both
# ~4 % medium and <1 % large firms; this second component fills the 20-300 staff range.
ESTABLISHED_SME = (0.08, 30, 1.0)
LABOUR_DISPATCH_SHARE = 0.01  # of all enterprises; dispatch agencies employ many
LABOUR_DISPATCH_STAFF = 10.0
MAX_STAFF = 200_000
GROWTH = {"distressed": (-0.08, 0.12), "other": (0.03, 0.10)}  # staff growth per year: mean, sigma (guess)
REVENUE_SPREAD, ASSETS_SPREAD, WAGE_SPREAD = 0.6, 0.5, 0.2  # sigma of the log between firms of one sector
# Revenue per employee against the sector median: traders turn over more, shops and individual businesses less.
REVENUE_FACTOR = {"wholesale": 1.5, "retail": 0.6, "individual_business": 0.5}
STATE_WAGE_FACTOR = 1.3  # agencies and public institutions pay above their sector
INNOVATION_PER_LOG_STAFF = 0.5  # larger firms do more R&D
NOT_INNOVATIVE = -10.0  # innovation score of entities that never certify (not companies, shells, too young)
DEREGISTERED, REVOKED = 0.062, 0.021  # of eligible entities, scaled by age: ~6 % and ~2 % overall
SHELL_SHARE = 0.03  # registered but dormant companies: no revenue, nobody insured (guess)
NO_SI_INDIVIDUAL, NO_SI_OTHER = 0.5, 0.005  # entities with no social-insurance account
NO_TAX_INDIVIDUAL, NO_TAX_OTHER = 0.08, 0.025  # taxpayers that never file (agencies never do)
DISTRESS = {"revoked": 1.0, "deregistered": 0.3, "operating": 0.05}  # firms in trouble: arrears, lists, losses
HIGH_TECH_SHARE = 0.03  # enterprises ever certified high-tech
RD_SHARE = 0.10  # further enterprises with some R&D expense
# Registered capital, 10k yuan: (median, sigma of the log, share null) (guess).
CAPITAL = {"limited_company": (100, 1.2, 0.02), "joint_stock_company": (5000, 1.0, 0.0),
           "sole_proprietorship": (10, 1.0, 0.1), "partnership": (500, 1.5, 0.02),
           "individual_business": (5, 0.8, 0.8), "cooperative": (50, 1.0, 0.05), "public_institution": (200, 1.0, 0.1),
           "government_agency": (0, 0, 1.0), "social_organization": (10, 0.8, 0.05), "law_firm": (30, 0.8, 0.5),
           "accounting_firm": (30, 0.7, 0.2)}  # fmt: skip


@dataclass
class Firms:
    """One element per enterprise; days are day numbers (see ``dates``)."""

    kind: np.ndarray  # index into ENTERPRISE_TYPES
    established: np.ndarray
    status: np.ndarray  # index into STATUSES
    status_since: np.ndarray  # meaningful only when not operating
    active_to: np.ndarray  # last day with activity: the snapshot date while operating
    division: np.ndarray
    section: np.ndarray  # index into industries.LETTERS
    industry_code: pl.Series
    district: np.ndarray  # index into DISTRICTS
    labour_dispatch: np.ndarray
    staff: np.ndarray  # staff at the snapshot date (float)
    growth: np.ndarray  # log growth of staff per year
    revenue_per_employee: np.ndarray
    assets_per_revenue: np.ndarray
    wage: np.ndarray  # monthly, at the snapshot date
    registered_capital: np.ndarray  # 10k yuan, NaN when not registered
    shell: np.ndarray
    has_si: np.ndarray
    files_tax: np.ndarray
    distress: np.ndarray
    innovation: np.ndarray  # propensity to do R&D, patent and get certified
    high_tech: np.ndarray
    rd: np.ndarray
    uscc: pl.Series
    name: pl.Series
    end: int  # the snapshot date

    @property
    def n(self) -> int:
        return len(self.kind)

    def staff_at(self, rows: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Latent staff of enterprises ``rows`` on ``days`` (at least one: someone runs the firm)."""
        return np.maximum(1.0, self.staff[rows] * np.exp(self.growth[rows] * (days - self.end) / DAYS_PER_YEAR))


def _established(kind: np.ndarray, end: date, rng: np.random.Generator) -> np.ndarray:
    years = np.arange(FIRST_YEAR, end.year + 1)
    weight = GROWTH_OF_FOUNDINGS ** (years - FIRST_YEAR)
    weight[-1] *= (end.timetuple().tm_yday) / 365  # the snapshot year is only partly over
    old = np.isin(kind, [T["government_agency"], T["public_institution"]])  # state bodies are old: flat
    year = np.where(old, rng.choice(years, len(kind)), rng.choice(years, len(kind), p=weight / weight.sum()))
    first = year_start(year)
    last = np.minimum(year_start(year + 1) - 1, day(end))
    return first + (rng.random(len(kind)) * (last - first + 1)).astype(np.int64)


def _status(kind: np.ndarray, est: np.ndarray, end: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Status and the day it took effect; older entities are likelier to have closed."""
    age = np.minimum((end - est) / DAYS_PER_YEAR, 20)
    scale = age / max(age.mean(), 1e-9)
    u = rng.random(len(kind))
    can_close = ~np.isin(kind, [T["government_agency"], T["public_institution"]]) & (end > est)
    can_revoke = can_close & np.isin(kind, [T[t] for t in MARKET_TYPES])
    status = np.zeros(len(kind), dtype=np.int64)
    status[can_close & (u < DEREGISTERED * scale)] = STATUSES.index("deregistered")
    revoked = can_revoke & (u >= DEREGISTERED * scale) & (u < (DEREGISTERED + REVOKED) * scale)
    status[revoked] = STATUSES.index("revoked")
    since = est + 1 + (rng.random(len(kind)) * (end - est)).astype(np.int64)  # in (est, end]
    return status, np.minimum(since, end)


def _nice(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Most registered capital is a round figure (50, 100, 300 …); the rest keeps two decimals."""
    k = np.floor(np.log10(np.maximum(x, 1e-9)))
    mantissa = x / 10**k
    steps = np.array([1, 2, 3, 5, 8, 10])
    rounded = steps[np.abs(mantissa[:, None] - steps).argmin(axis=1)] * 10**k
    return np.where(rng.random(len(x)) < 0.7, rounded, np.round(x, 2))


def _by_section(figures: dict[str, float], section: np.ndarray, default: float | None = None) -> np.ndarray:
    return np.array([figures.get(s, default) for s in ind.LETTERS], dtype=float)[section]


def _top(score: np.ndarray, k: int) -> np.ndarray:
    chosen = np.zeros(len(score), dtype=bool)
    if k > 0:
        chosen[np.argpartition(-score, k - 1)[:k]] = True
    return chosen


def draw_firms(n: int, end: date, rng: np.random.Generator, minter: UsccMinter) -> Firms:
    kind = rng.choice(len(ENTERPRISE_TYPES), n, p=[TYPE_SHARE[t] for t in ENTERPRISE_TYPES])
    end_day = day(end)
    est = _established(kind, end, rng)
    status, since = _status(kind, est, end_day, rng)
    # A revoked firm had usually stopped trading (and filing) months or years before it was struck off.
    quiet = np.maximum(since - rng.integers(90, 900, n), est + 1)
    active_to = np.where(status == 0, end_day, np.where(status == STATUSES.index("revoked"), quiet, since))

    division, section, industry_code = ind.draw_industry(kind, rng)
    dispatch = np.isin(kind, [T[t] for t in COMPANY_TYPES])
    dispatch &= rng.random(n) < LABOUR_DISPATCH_SHARE / sum(TYPE_SHARE[t] for t in COMPANY_TYPES)
    division[dispatch], section[dispatch] = 72, ind.LETTERS.index("L")
    industry_code = industry_code.scatter(np.flatnonzero(dispatch), f"L{ind.LABOUR_DISPATCH_CLASS}")
    district = rng.choice(len(DISTRICTS), n, p=_district_weights())
    staff = _staff(kind, section, dispatch, rng)

    distress = rng.random(n) < np.array([DISTRESS[s] for s in STATUSES])[status]
    individual = kind == T["individual_business"]
    market = np.isin(kind, [T[t] for t in MARKET_TYPES]) & ~individual
    shell = market & ~dispatch & (rng.random(n) < SHELL_SHARE)
    has_si = ~shell & (rng.random(n) >= np.where(individual, NO_SI_INDIVIDUAL, NO_SI_OTHER))
    files_tax = (kind != T["government_agency"]) & (
        rng.random(n) >= np.where(individual, NO_TAX_INDIVIDUAL, NO_TAX_OTHER)
    )
    growth = np.where(distress, rng.normal(*GROWTH["distressed"], n), rng.normal(*GROWTH["other"], n))

    rpe = _by_section(ind.REVENUE_PER_EMPLOYEE, section) * np.exp(REVENUE_SPREAD * rng.standard_normal(n))
    rpe *= np.select([division == 51, division == 52, individual], list(REVENUE_FACTOR.values()), 1.0)
    apr = _by_section(ind.ASSETS_PER_REVENUE, section) * np.exp(ASSETS_SPREAD * rng.standard_normal(n))
    state = np.isin(kind, [T["government_agency"], T["public_institution"]])
    wage = _by_section(ind.MONTHLY_WAGE, section) * np.exp(WAGE_SPREAD * rng.standard_normal(n))
    wage *= np.where(state, STATE_WAGE_FACTOR, 1.0)

    innovation = _innovation(kind, division, staff, shell, est, end_day, rng)
    eligible = innovation > NOT_INNOVATIVE
    high_tech = _top(innovation, min(round(HIGH_TECH_SHARE * n), int(eligible.sum())))
    rd = high_tech | _top(np.where(high_tech, -np.inf, innovation + rng.standard_normal(n)), round(RD_SHARE * n))
    rd &= eligible

    prefix = ascii_matrix([USCC_PREFIX.get(t, "91") for t in ENTERPRISE_TYPES])[kind]
    divisions = ascii_matrix(list(DISTRICTS))[district]
    uscc = strings(minter.mint(prefix, divisions, est < day(date(*GB32100_FROM))))
    return Firms(
        kind=kind, established=est, status=status, status_since=since, active_to=active_to, division=division,
        section=section, industry_code=industry_code, district=district, labour_dispatch=dispatch, staff=staff,
        growth=growth, revenue_per_employee=rpe, assets_per_revenue=apr, wage=wage,
        registered_capital=_capital(kind, staff, rng), shell=shell, has_si=has_si, files_tax=files_tax,
        distress=distress, innovation=innovation, high_tech=high_tech, rd=rd, uscc=uscc,
        name=enterprise_names(kind, district, section, rng), end=end_day,
    )  # fmt: skip


def _staff(kind: np.ndarray, section: np.ndarray, dispatch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(kind)
    median = np.array([STAFF[t][0] for t in ENTERPRISE_TYPES], dtype=float)[kind]
    sigma = np.array([STAFF[t][1] for t in ENTERPRISE_TYPES])[kind]
    sme = (kind == T["limited_company"]) & (rng.random(n) < ESTABLISHED_SME[0])
    median[sme], sigma[sme] = ESTABLISHED_SME[1], ESTABLISHED_SME[2]
    staff = median * _by_section(ind.STAFF_FACTOR, section, default=1.0) * np.exp(sigma * rng.standard_normal(n))
    return np.clip(np.where(dispatch, staff * LABOUR_DISPATCH_STAFF, staff), 1, MAX_STAFF)


def _innovation(
    kind: np.ndarray,
    division: np.ndarray,
    staff: np.ndarray,
    shell: np.ndarray,
    est: np.ndarray,
    end: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Propensity to do R&D, patent and be certified: companies registered a year or more, in innovative
    divisions, and larger firms score higher; the rest score ``NOT_INNOVATIVE``."""
    bonus = np.zeros(98)
    for d, b in ind.INNOVATIVE_DIVISIONS.items():
        bonus[d] = b
    score = rng.standard_normal(len(kind)) + bonus[division] + INNOVATION_PER_LOG_STAFF * np.log(staff)
    eligible = np.isin(kind, [T[t] for t in COMPANY_TYPES]) & ~shell & (est <= end - 365)
    return np.where(eligible, score, NOT_INNOVATIVE)


def _capital(kind: np.ndarray, staff: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Registered capital in 10k yuan, growing with size; NaN where none is registered."""
    n = len(kind)
    median, sigma, null = (np.array([CAPITAL[t][i] for t in ENTERPRISE_TYPES], dtype=float) for i in (0, 1, 2))
    typical_staff = np.array([STAFF[t][0] for t in ENTERPRISE_TYPES])[kind]
    capital = median[kind] * np.sqrt(staff / typical_staff) * np.exp(sigma[kind] * rng.standard_normal(n))
    return np.where(rng.random(n) < null[kind], np.nan, _nice(capital, rng))


# Registrations per district (guess): big-city central districts register the most.
_DISTRICT_WEIGHT = {"310115": 6, "110105": 5, "110108": 5, "440305": 5, "440306": 5, "440307": 4, "440106": 4,
                    "330106": 3, "330108": 3, "510107": 3, "500107": 2.5, "420106": 2.5}  # fmt: skip


def _district_weights() -> np.ndarray:
    w = np.array([_DISTRICT_WEIGHT.get(code, 1.5) for code in DISTRICTS])
    return w / w.sum()


def business_frame(f: Firms) -> pl.DataFrame:
    closed = f.status != 0
    return pl.DataFrame(
        [
            f.uscc.alias("uscc"),
            f.name.alias("name"),
            pl.Series("enterprise_type", ENTERPRISE_TYPES).gather(f.kind),
            pl.Series("registered_capital", f.registered_capital, nan_to_null=True),
            date_series("established_on", f.established),
            f.industry_code.alias("industry_code"),
            pl.Series("division_code", list(DISTRICTS)).gather(f.district),
            pl.Series("status", STATUSES).gather(f.status),
            date_series("status_since", f.status_since, closed),
            pl.Series("labour_dispatch", f.labour_dispatch),
        ]
    )
