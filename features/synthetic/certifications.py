"""Certifications: high-tech enterprise, specialised-and-innovative SME, little giant, single-item champion.

Each certificate is valid three years (valid_to = valid_from + 3 years - 1 day); many holders renew,
getting a new certificate that starts after the old one ends. Holders are chosen by the hidden
innovation score, so certificates go with R&D spending and invention patents.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from features.registries.schema import CERT_LEVELS, CERTIFICATIONS
from features.standards.divisions import DISTRICTS
from features.synthetic.codes import Serials
from features.synthetic.dates import add_months, date_series, day, year_of, year_start
from features.synthetic.enterprises import Firms
from features.synthetic.industries import LETTERS

__all__ = ["CERT_SERIALS", "certificate_numbers", "certifications"]

# Per certification: level, prefix of the certificate number, first batch year, share of all enterprises
# (high-tech holders are ``Firms.high_tech``), day of the year batches are issued (from, to), renewal rate.
PROGRAMMES = {
    "high_tech": ("national", "GR", 2008, None, (280, 360), 0.7),
    "specialised_innovative": ("provincial", "ZJTX", 2013, 0.01, (150, 330), 0.6),
    "little_giant": ("national", "XJR", 2019, 0.001, (180, 240), 0.7),
    "single_champion": ("national", "DXGJ", 2016, 0.0002, (300, 360), 0.6),
}
LOOK_BACK_YEARS = 10  # first certificates go back this far (any programme)
CERT_SERIALS = 10**6
VALID_MONTHS = 36


def certificate_numbers(kind: np.ndarray, year: np.ndarray, province: np.ndarray, serial: np.ndarray) -> pl.Series:
    """e.g. GR202244012345: programme prefix, year, province, 6-digit serial."""
    prefix = pl.Series([p[1] for p in PROGRAMMES.values()]).gather(kind)
    return (
        prefix + pl.Series(year).cast(pl.String) + pl.Series(province) + pl.Series(serial).cast(pl.String).str.zfill(6)
    )


def _holders(f: Firms, name: str, rng: np.random.Generator, chosen: dict[str, np.ndarray]) -> np.ndarray:
    if name == "high_tech":
        return np.flatnonzero(f.high_tech)
    share = PROGRAMMES[name][3]
    score = f.innovation + rng.standard_normal(f.n)
    if name == "specialised_innovative":  # SMEs only
        score = np.where((f.staff >= 10) & (f.staff < 1000), score, -np.inf)
    elif name == "little_giant":  # picked among the specialised-and-innovative
        score = np.where(np.isin(np.arange(f.n), chosen["specialised_innovative"]), score, -np.inf)
    else:  # single-item champions are established manufacturers
        score = np.where((f.section == LETTERS.index("C")) & (f.staff >= 100), score, -np.inf)
    k = min(round(share * f.n), int(np.isfinite(score).sum()))
    return np.sort(np.argpartition(-score, k - 1)[:k]) if k else np.array([], dtype=np.int64)


def certifications(f: Firms, end: date, rng: np.random.Generator, serials: Serials) -> pl.DataFrame:
    end_day = day(end)
    chosen: dict[str, np.ndarray] = {}
    rows = []
    for kind, name in enumerate(CERTIFICATIONS):
        _, _, since, _, (d0, d1), renew = PROGRAMMES[name]
        firm = _holders(f, name, rng, chosen)
        chosen[name] = firm
        # First certificate: a batch day at least a year after founding, within the programme's years.
        first_year = np.maximum(year_of(f.established[firm] + 365) + 1, max(since, end.year - LOOK_BACK_YEARS))
        span = np.maximum(end.year - first_year + 1, 0)  # 0: too young, the start falls after the snapshot
        year = first_year + (rng.random(len(firm)) * span).astype(np.int64)
        start = year_start(year) + rng.integers(d0, d1, len(firm))
        while len(firm):
            ok = start <= end_day
            firm, start = firm[ok], start[ok]
            stop = add_months(start, VALID_MONTHS) - 1
            rows.append((firm, np.full(len(firm), kind), start, stop))
            again = (stop < end_day) & (rng.random(len(firm)) < renew)
            firm, start = firm[again], stop[again] + 1 + rng.integers(0, 45, int(again.sum()))
    firm, kind, start, stop = (np.concatenate([r[i] for r in rows]) if rows else np.array([], int) for i in range(4))
    order = np.lexsort((start, kind, firm))
    firm, kind, start, stop = firm[order], kind[order], start[order], stop[order]
    province = np.array([code[:2] for code in DISTRICTS])[f.district[firm]]
    level = np.array([CERT_LEVELS.index(PROGRAMMES[c][0]) for c in CERTIFICATIONS])[kind]
    return pl.DataFrame(
        [
            f.uscc.gather(firm).alias("uscc"),
            pl.Series("certification", CERTIFICATIONS).gather(kind),
            pl.Series("level", CERT_LEVELS).gather(level),
            certificate_numbers(kind, year_of(start), province, serials.take(len(firm))).alias("certificate_no"),
            date_series("valid_from", start),
            date_series("valid_to", stop),
        ]
    )
