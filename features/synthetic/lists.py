"""Public credit lists: serious dishonesty (严重违法失信) and abnormal operation (经营异常).

Listing follows distress: revoked firms and firms in arrears are far likelier to be listed. Many
abnormal-operation listings are removed once the firm files its overdue report; some firms are
listed again later.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from features.registries.schema import CREDIT_LISTS
from features.synthetic.dates import DAYS_PER_YEAR, date_series, day
from features.synthetic.enterprises import MARKET_TYPES, Firms, T

__all__ = ["credit_lists"]

# Chance of being listed, (distressed, other) firms: ~4 % abnormal operation, ~2 % serious dishonesty overall.
LISTED = {"abnormal_operation": (0.25, 0.023), "serious_dishonesty": (0.14, 0.009)}
REMOVED = {"abnormal_operation": 0.45, "serious_dishonesty": 0.15}  # share later removed (operating firms)
DAYS_TO_REMOVAL = {"abnormal_operation": (30, 200), "serious_dishonesty": (365, 365)}  # minimum + exponential mean
RELISTED = 0.15  # removed abnormal-operation listings followed by a new one
LOOK_BACK_YEARS = 8  # listings in the extract go back this far
REASONS = {
    "abnormal_operation": (
        "未按照规定期限公示年度报告",
        "通过登记的住所或者经营场所无法联系",
        "公示企业信息隐瞒真实情况、弄虚作假",
        "未在责令的期限内公示有关企业信息",
    ),
    "serious_dishonesty": (
        "被列入经营异常名录届满3年仍未履行相关义务",
        "提交虚假材料或者采取其他欺诈手段隐瞒重要事实取得市场主体登记",
        "拒不履行法律文书确定的义务",
        "拖欠农民工工资情节严重",
        "偷税、逃避追缴欠税情节严重",
    ),
}


def credit_lists(f: Firms, end: date, rng: np.random.Generator) -> pl.DataFrame:
    end_day = day(end)
    market = np.isin(f.kind, [T[t] for t in MARKET_TYPES])
    # Listing ends with deregistration; a revoked firm keeps being listed (its records stay public).
    hi = np.where(f.status == 0, end_day, np.minimum(end_day, f.status_since - 1))
    lo = np.maximum(f.established + 90, end_day - round(LOOK_BACK_YEARS * DAYS_PER_YEAR))
    parts = []
    for name in CREDIT_LISTS:
        chance = np.where(f.distress, *LISTED[name])
        firm = np.flatnonzero(market & (hi >= lo) & (rng.random(f.n) < chance))
        listed = lo[firm] + (rng.random(len(firm)) * (hi[firm] - lo[firm] + 1)).astype(np.int64)
        removed = _removal(f, firm, listed, name, rng)
        parts.append((firm, np.full(len(firm), CREDIT_LISTS.index(name)), listed, removed))
        if name == "abnormal_operation":  # listed again after a removal
            again = (removed < end_day) & (rng.random(len(firm)) < RELISTED)
            later = removed[again] + 60 + np.floor(rng.exponential(300, int(again.sum()))).astype(np.int64)
            ok = later <= hi[firm[again]]
            firm2, later = firm[again][ok], later[ok]
            parts.append(
                (firm2, np.full(len(firm2), CREDIT_LISTS.index(name)), later, _removal(f, firm2, later, name, rng))
            )
    firm, which, listed, removed = (np.concatenate([p[i] for p in parts]) for i in range(4))
    order = np.lexsort((listed, which, firm))
    firm, which, listed, removed = firm[order], which[order], listed[order], removed[order]
    reason = _reasons(which, rng)
    return pl.DataFrame(
        [
            f.uscc.gather(firm).alias("uscc"),
            pl.Series("list", CREDIT_LISTS).gather(which),
            date_series("listed_on", listed),
            date_series("removed_on", removed, removed <= end_day),
            reason.alias("reason"),
        ]
    )


def _removal(f: Firms, firm: np.ndarray, listed: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    """Removal day; beyond any real date (int64 max) for listings still in force."""
    minimum, mean = DAYS_TO_REMOVAL[name]
    removed = listed + minimum + np.floor(rng.exponential(mean, len(firm))).astype(np.int64)
    fixed = (f.status[firm] == 0) & (rng.random(len(firm)) < REMOVED[name])
    return np.where(fixed, removed, np.iinfo(np.int32).max)


def _reasons(which: np.ndarray, rng: np.random.Generator) -> pl.Series:
    pools = [REASONS[name] for name in CREDIT_LISTS]
    flat = pl.Series([r for pool in pools for r in pool])
    size = np.array([len(p) for p in pools])
    offset = np.concatenate([[0], np.cumsum(size)[:-1]])
    return flat.gather(offset[which] + (rng.random(len(which)) * size[which]).astype(np.int64))
