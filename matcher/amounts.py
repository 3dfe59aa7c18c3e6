"""What an amount may be: a finite number of fen, not negative, below a ceiling no subsidy reaches.

The matcher refuses any other amount when it computes one (an amount error the
officer sees, never a decision), and the database refuses one by CHECK
constraint, so no path — a run, a confirmation, a correction — can write it.
"""

from __future__ import annotations

import polars as pl

__all__ = ["MAX_AMOUNT_FEN", "MAX_AMOUNT_YUAN", "amount_check", "yuan_text"]

# One benefit to one enterprise for one period. The largest real awards are tens of millions of yuan;
# an amount above a billion is a rule's mistake (a missing division, a unit in fen), not a grant.
MAX_AMOUNT_YUAN = 1_000_000_000
MAX_AMOUNT_FEN = MAX_AMOUNT_YUAN * 100


def amount_check(column: str) -> str:
    """The CHECK constraint's SQL for an amount column (NULL allowed where the column is nullable)."""
    return f"{column} >= 0 AND {column} <= {MAX_AMOUNT_FEN}"


def _grouped(whole: pl.Expr) -> pl.Expr:
    """A non-negative integer below 10**15 with its thousands grouped by commas: 12,000."""
    three = [((whole // 10 ** (3 * i)) % 1000).cast(pl.String).str.zfill(3) for i in range(4)]
    out = whole.cast(pl.String)
    for groups in range(1, 5):  # each larger number of groups wraps the smaller: tested first
        lead = (whole // 10 ** (3 * groups)).cast(pl.String)
        shown = pl.concat_str([lead, *three[groups - 1 :: -1]], separator=",")
        out = pl.when(whole >= 10 ** (3 * groups)).then(shown).otherwise(out)
    return out


def yuan_text(fen: pl.Expr) -> pl.Expr:
    """An amount in fen as every text shows it in yuan, exactly from the integer (never through a float): the
    thousands grouped, the fen only when there are any — 12,000 / 7,995.01 (``api.web.texts.yuan``'s number)."""
    size = fen.abs()
    cents = (
        pl.when(size % 100 != 0).then(pl.format(".{}", (size % 100).cast(pl.String).str.zfill(2))).otherwise(pl.lit(""))
    )
    sign = pl.when(fen < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str([sign, _grouped(size // 100), cents])
