"""Bank accounts on file with the paying agency: the account each enterprise's cash benefits are paid into.

Most enterprises have one basic account (基本存款账户) named exactly as registered; some changed banks once
(two rows, the later one wins); a few have none on file (they are asked for one when a benefit is due); and a
few accounts carry a name that no longer matches the registration (a renamed firm), the usual reason a bank
returns a transfer.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from features.synthetic.dates import date_series, day
from features.synthetic.enterprises import Firms

__all__ = ["BANKS", "bank_accounts"]

# CNAPS participant codes of the large banks (the first 3 of a 12-digit bank code).
BANKS = ("102", "103", "104", "105", "301", "308", "403")
NO_ACCOUNT = 0.03  # enterprises with no account on file
CHANGED_BANK = 0.08  # enterprises with an older account too
STALE_NAME = 0.01  # accounts whose name differs from the registered one


def _digits(rng: np.random.Generator, n: int, width: int) -> pl.Series:
    return pl.Series(rng.integers(0, 10**width, n, dtype=np.int64)).cast(pl.String).str.zfill(width)


def _bank_codes(rng: np.random.Generator, n: int) -> pl.Series:
    bank = pl.Series(BANKS).gather(rng.integers(0, len(BANKS), n))
    return bank + _digits(rng, n, 9)  # 4 city, 4 branch, 1 check digit: 12 in all


def bank_accounts(f: Firms, end: date, rng: np.random.Generator) -> pl.DataFrame:
    n = len(f.established)
    has = rng.random(n) >= NO_ACCOUNT
    end_day = day(end)
    # Opened some weeks after establishment (never after the snapshot).
    opened = np.minimum(f.established + rng.integers(5, 60, n), end_day)
    name = f.name
    stale = rng.random(n) < STALE_NAME
    name = pl.select(pl.when(pl.Series(stale)).then(name.str.replace("有限公司$", "公司") + "（原）").otherwise(name))
    current = pl.DataFrame(
        [
            f.uscc.alias("uscc"),
            _bank_codes(rng, n).alias("bank_code"),
            (pl.Series(["6"] * n) + _digits(rng, n, 18)).alias("account_no"),
            name.to_series().alias("account_name"),
            date_series("valid_from", opened),
        ]
    ).filter(pl.Series(has))
    changed = has & (rng.random(n) < CHANGED_BANK) & (opened + 400 < end_day)
    k = int(changed.sum())
    later = opened[changed] + rng.integers(200, 400, k)
    older = current.filter(pl.Series(changed[has])).with_columns(
        _bank_codes(rng, k).alias("bank_code"), (pl.Series(["6"] * k) + _digits(rng, k, 18)).alias("account_no")
    )
    newer = current.filter(pl.Series(changed[has])).with_columns(date_series("valid_from", later))
    return pl.concat([current.filter(~pl.Series(changed[has])), older, newer]).sort("uscc", "valid_from")
