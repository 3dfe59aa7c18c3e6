"""What an amount may be: a finite number of fen, not negative, below a ceiling no subsidy reaches.

The matcher refuses any other amount when it computes one (an amount error the
officer sees, never a decision), and the database refuses one by CHECK
constraint, so no path — a run, a confirmation, a correction — can write it.
"""

from __future__ import annotations

__all__ = ["MAX_AMOUNT_FEN", "MAX_AMOUNT_YUAN", "amount_check"]

# One benefit to one enterprise for one period. The largest real awards are tens of millions of yuan;
# an amount above a billion is a rule's mistake (a missing division, a unit in fen), not a grant.
MAX_AMOUNT_YUAN = 1_000_000_000
MAX_AMOUNT_FEN = MAX_AMOUNT_YUAN * 100


def amount_check(column: str) -> str:
    """The CHECK constraint's SQL for an amount column (NULL allowed where the column is nullable)."""
    return f"{column} >= 0 AND {column} <= {MAX_AMOUNT_FEN}"
