"""Whole training queries sampled past a cap, stratified by policy and region (issue 17).

A query is one enterprise's notices of one run (``GROUP``: as-of date and
USCC); LambdaRank learns from the order *within* a query, so a query is kept
or dropped whole, never split. The region is the registering division the
USCC carries (characters 3–6: province and prefecture, GB 32100), so the
label frame needs no profile join. A stratum is a (policy, region) pair; a
query holding several policies belongs to several strata.

How (vectorised in polars and numpy, no loop over queries):

1. **Keys.** Each query's random key is a seeded hash of its as-of date and
   USCC: the same seed draws the same queries whatever the frame's order,
   on any machine and polars version (integer arithmetic on the USCC, as the
   partitions' hash; not polars' ``hash``), another seed others.
2. **Coverage.** For every stratum present, the query with the smallest key
   among those holding it is taken: no stratum is lost, however small. One
   query covers several strata, so this takes at most as many queries as
   there are strata, usually far fewer.
3. **Shares.** Each region is due its share of the cap; the covering queries
   count towards their region's due, and the rest of the budget goes to the
   regions still short of theirs, in proportion to the shortfall. It is drawn
   by systematic sampling (a random start, then one query per 1.0 of
   cumulative inclusion probability) over the remaining queries sorted by
   region, then the set of policies the query holds, then as-of date, then
   key. Every region, every (region, policy set) and every (region, policy
   set, date) is a contiguous run in that order, so each gets its
   proportional count within one query ("implicit stratification"); within a
   run the queries taken are random.

A region's count is then within one query of its due share of the cap, plus
at most what coverage took beyond the dues (``Sample.covering`` bounds it).
The sample holds exactly ``max_queries`` queries unless there are more strata
than that: coverage wins, and it holds the covering queries only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from features.registries.partitions import uscc_hash
from matcher.ranking.evaluate import GROUP
from matcher.ranking.sizes import MAX_QUERIES

__all__ = ["MAX_QUERIES", "REGION_DIGITS", "STRATUM", "Sample", "region", "sample_queries", "strata_shares"]

REGION_DIGITS = 4  # province (2) + prefecture (2) of the USCC's registering division
STRATUM = ("policy_id", "region")
BLOCK = ("region",)  # the blocks whose due count the covering queries count towards
ORDER = ("region", "policies", "as_of")  # the systematic pass's order: each prefix is a contiguous block
_NEEDS = (*GROUP, "policy_id")


def region(uscc: pl.Expr) -> pl.Expr:
    """The registering division's province and prefecture, from a USCC (GB 32100: characters 3–8)."""
    return uscc.str.slice(2, REGION_DIGITS)


@dataclass(frozen=True)
class Sample:
    """The rows kept (every pair of each query taken) and what was taken, for MLflow and the model card."""

    rows: pl.DataFrame
    sampled: bool
    queries_available: int
    queries_used: int
    max_queries: int | None
    seed: int
    strata: int
    covering: int = 0  # queries taken first so that every stratum is present (step 2)

    def params(self) -> dict[str, Any]:
        return {
            "sampled": self.sampled,
            "max_queries": self.max_queries if self.max_queries is not None else "none",
            "train_queries_available": self.queries_available,
            "train_queries_used": self.queries_used,
            "sample_seed": self.seed,
            "sample_strata": self.strata,
            "sample_covering_queries": self.covering,
        }


def _check(frame: pl.DataFrame, max_queries: int | None) -> None:
    missing = [c for c in _NEEDS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"sampling training queries: expected columns {', '.join(_NEEDS)} (the label frame of "
            f"matcher.ranking.labels.load_feedback), found no {', '.join(missing)} among {', '.join(frame.columns)}"
        )
    if max_queries is not None and max_queries < 1:
        raise ValueError(
            f"sampling training queries: expected a cap of at least 1 query (or none, to train on all), "
            f"found {max_queries}; pass e.g. --max-queries {MAX_QUERIES}"
        )


_MIX = (0x9E3779B97F4A7C15, 0xD6E8FEB86659FD93)  # odd 64-bit multipliers


def _query_key(seed: int) -> pl.Expr:
    """A query's random key: the USCC's stable hash mixed with its as-of date and the seed (UInt64 arithmetic,
    wrapping); a code that is not one (never in a run) keys 0, and the USCC breaks the tie."""
    u64 = pl.UInt64
    day = pl.col("as_of").cast(pl.Int64).cast(u64)
    salt = pl.lit((seed * _MIX[1]) % 2**64, dtype=u64)
    mixed = uscc_hash().xor(day * pl.lit(_MIX[0], dtype=u64)).xor(salt) * pl.lit(_MIX[1], dtype=u64)
    return mixed.fill_null(0)


def sample_queries(frame: pl.DataFrame, max_queries: int | None, *, seed: int = 0) -> Sample:
    """At most ``max_queries`` whole queries of ``frame`` (all of them when it holds no more, or the cap is
    None), stratified by (policy, region); the same ``seed`` takes the same queries."""
    _check(frame, max_queries)
    # One narrow frame of pairs; a query's random key is a seeded hash of (as-of date, USCC), so no pair-level join
    # is needed and the draw does not depend on the frame's order.
    pairs = frame.select(*GROUP, "policy_id", region=region(pl.col("uscc")), key=_query_key(seed))
    queries = pairs.group_by(GROUP).agg(
        pl.col("region").first(), pl.col("key").first(), policies=pl.col("policy_id").unique().sort().str.join(",")
    )
    available = queries.height
    strata = pairs.select(pl.struct(*STRATUM).n_unique()).item()
    if max_queries is None or available <= max_queries:
        return Sample(frame, False, available, available, max_queries, seed, strata)

    rng = np.random.default_rng(seed)
    covering = pairs.filter(pl.col("key") == pl.col("key").min().over(STRATUM)).select(GROUP).unique()
    del pairs
    # Each block's count in the sample is due to be its share of the cap; the covering queries count towards it,
    # so the rest of the budget goes to the blocks still short of their due, in proportion to the shortfall.
    due = queries.group_by(BLOCK).agg(due=pl.len().cast(pl.Float64) * (max_queries / available))  # no u32 overflow
    short = (
        due.join(covering.join(queries, on=GROUP).group_by(BLOCK).agg(covered=pl.len()), on=BLOCK, how="left")
        .with_columns(short=(pl.col("due") - pl.col("covered").fill_null(0)).clip(lower_bound=0))
        .select(*BLOCK, "short")
    )
    budget = max_queries - covering.height
    taken = covering.select(GROUP)
    if budget <= 0:  # more strata than the cap: coverage wins
        rows = frame.join(taken, on=GROUP, how="semi")
        return Sample(rows, True, available, taken.height, max_queries, seed, strata, covering.height)
    rest = (
        queries.join(covering, on=GROUP, how="anti")
        .join(short, on=BLOCK)
        .sort(*ORDER, "key", "uscc")  # the USCC only breaks a tie of keys (a hash collision)
        # inclusion probability of each remaining query (≤ 1: a block's share of the budget ≤ its shortfall ≤ its
        # remaining queries), then systematic sampling: a random start, every 1.0 of cumulative probability
        .with_columns(p=budget * pl.col("short") / short["short"].sum() / pl.len().over(BLOCK))
        .with_columns(tick=(pl.col("p").cum_sum() + rng.random()).floor())
    )
    picked = rest.filter(pl.col("tick") > pl.col("tick").shift(1, fill_value=0.0))
    taken = pl.concat([taken, picked.select(GROUP)])
    rows = frame.join(taken, on=GROUP, how="semi")
    return Sample(rows, True, available, taken.height, max_queries, seed, strata, covering.height)


def strata_shares(frame: pl.DataFrame) -> pl.DataFrame:
    """policy_id, region, share: each (policy, region) stratum's share of the pairs of ``frame``."""
    return (
        frame.group_by("policy_id", region(pl.col("uscc")).alias("region"))
        .agg(pairs=pl.len())
        .with_columns(share=pl.col("pairs") / pl.col("pairs").sum())
        .select(*STRATUM, "share")
    )
