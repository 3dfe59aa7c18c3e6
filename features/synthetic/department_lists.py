"""Departments' complete lists of declared facts no registry holds: firms in bankruptcy proceedings (the
market-regulation bureau, from the courts' rulings) and zombie firms (the development and reform department).

Both follow distress, as in life: a bankruptcy case is opened against a few distressed firms, operating or
revoked, and a zombie firm is a distressed operating firm kept alive without business. Written beside the
registry extract (``lists/<fact>.csv``, columns uscc, value, evidence) for `huiqi supplied-facts attest-list`;
they are not registry tables (the registry's fingerprint and checks leave them alone).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from features.synthetic.enterprises import MARKET_TYPES, Firms, T

__all__ = ["LIST_DEPARTMENTS", "department_lists"]

# Chance of being on each list, (distressed, other) market firms: about 0.6 % in bankruptcy and 0.8 % zombie
# overall with the generator's share of distressed firms (guesses; no public rate for either).
LISTED = {"in_bankruptcy": (0.08, 0.001), "zombie_firm": (0.12, 0.0015)}
# Who keeps each list (its id in policies/facts/declared.yaml) and the reference the demo imports it under.
LIST_DEPARTMENTS = {
    "in_bankruptcy": ("market_regulation", "市场监管部门破产案件企业名单（合成数据）"),
    "zombie_firm": ("development_reform", "发展改革部门僵尸企业名单（合成数据）"),
}


def department_lists(f: Firms, end: date, rng: np.random.Generator) -> dict[str, pl.DataFrame]:
    """Per fact, the firms on its list as of ``end``: uscc, value (true), evidence (a case or notice number)."""
    market = np.isin(f.kind, [T[t] for t in MARKET_TYPES])
    operating = f.status == 0
    out = {}
    for name, (distressed, other) in LISTED.items():
        eligible = market & (operating if name == "zombie_firm" else (operating | f.distress))
        chance = np.where(f.distress, distressed, other)
        firm = np.flatnonzero(eligible & (rng.random(f.n) < chance))
        numbers = rng.integers(1, 2000, len(firm))
        if name == "in_bankruptcy":
            evidence = [f"({end.year})破申{n}号" for n in numbers]
        else:
            evidence = [f"僵尸企业认定第{n}号" for n in numbers]
        out[name] = pl.DataFrame(
            {"uscc": f.uscc.gather(firm), "value": ["true"] * len(firm), "evidence": evidence},
            schema={"uscc": pl.String, "value": pl.String, "evidence": pl.String},
        )
    return out
