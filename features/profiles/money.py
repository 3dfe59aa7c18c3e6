"""Sums of money that do not depend on the order rows are read in.

A float sum's last bits depend on the order of its terms, and a group's rows reach an aggregation in whatever
order the engine's threads (or a partitioned run's parts) deliver them: 394.28 one time, 394.28000000000003
another. Amounts are given to the fen, so they are summed as integer fen — exact, in any order — and turned
back into yuan once.
"""

from __future__ import annotations

import polars as pl

__all__ = ["yuan_sum"]


def yuan_sum(amount: pl.Expr) -> pl.Expr:
    """The sum of ``amount`` (yuan, to the fen) as yuan, exact whatever the order (nulls count as 0, as in
    ``sum``)."""
    return (amount * 100).round(0).cast(pl.Int64).sum() / 100
