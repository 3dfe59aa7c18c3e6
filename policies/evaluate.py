"""Bulk evaluation: every in-force policy over every profile in one polars query."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from policies.compiled import CompiledPolicy

__all__ = ["eligibility_long", "evaluate_policies"]


def evaluate_policies(
    profiles: pl.LazyFrame | pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    near_miss_margin: float | None = None,
) -> pl.LazyFrame:
    """Wide result: ``uscc`` then, per policy, ``<id>:eligible`` (true / false / null = unknown) and ``<id>:amount``.

    With ``near_miss_margin``, also ``<id>:near``: eligibility with numeric thresholds eased by that share.

    All policies go into one ``select`` so polars evaluates them in a single
    pass over the profiles, sharing the reads of common facts.
    """
    exprs: list[pl.Expr] = [pl.col("uscc")]
    for p in policies:
        exprs.append(p.eligible_expr(as_of).alias(f"{p.id}:eligible"))
        exprs.append(p.amount_expr(as_of).alias(f"{p.id}:amount"))
        if near_miss_margin:
            exprs.append(p.eligible_expr(as_of, relax=near_miss_margin).alias(f"{p.id}:near"))
    return profiles.lazy().select(exprs)


def eligibility_long(wide: pl.LazyFrame, policies: Sequence[CompiledPolicy]) -> pl.LazyFrame:
    """One row per enterprise and policy: uscc, policy_id, version, eligible, amount."""
    parts = [
        wide.select(
            pl.col("uscc"),
            pl.lit(p.id).alias("policy_id"),
            pl.lit(p.version, dtype=pl.Int32).alias("version"),
            pl.col(f"{p.id}:eligible").alias("eligible"),
            pl.col(f"{p.id}:amount").alias("amount"),
        )
        for p in policies
    ]
    return pl.concat(parts, how="vertical") if parts else wide.select(pl.col("uscc")).head(0)
