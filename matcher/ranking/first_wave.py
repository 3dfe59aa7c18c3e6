"""Metrics of what the ranker decides: which notices go out in the first wave, under the push cap.

NDCG@5 barely separates orders here — most enterprises have fewer candidates
than the cut-off, so any order scores well. What the order changes is which
``cap`` notices are pushed with the run and which wait a week. So, on the
queries (one enterprise on one as-of date) with **more candidates than the
cap** — the only ones where the order decides anything:

- ``take_up_first_wave``: of the notices the enterprise acted on (confirmed
  or supplied data), the share the scorer puts in its first ``cap``;
- ``ndcg_cap``: NDCG at the cap, a notice acted on being the only gain (an
  open without action says the notice was seen, not wanted);
- ``mrr``: the mean reciprocal rank of the first notice acted on (queries
  where one was).

Labels were collected under an earlier order, so each notice acted on counts
1 ÷ its examination propensity (``matcher.ranking.propensity``) in take-up and
NDCG: one acted on from the fourth position weighs more than one acted on
from the first (checked against the simulator's true preferences, the
weighted figures land within about 0.02 of the truth, the unweighted ones up
to 0.15 off, in favour of the order the feedback was logged under). MRR is
not weighted: read it as "under the logged exposure". Ties in a score are broken by the policy id, as serving
breaks them: the first wave measured is the one that would be pushed. Every figure comes with a
bootstrap interval over enterprises (``matcher.ranking.bootstrap``), and every
scorer is measured on the same queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from matcher.ranking.bootstrap import DRAWS, LEVEL, Estimate, bootstrap_ratios
from matcher.ranking.evaluate import GROUP

__all__ = ["ACTED_GRADE", "DECISION_METRICS", "DecisionMetrics", "decision_metrics"]

DECISION_METRICS = ("take_up_first_wave", "ndcg_cap", "mrr")
ACTED_GRADE = 3  # the grade of a notice acted on


@dataclass
class DecisionMetrics:
    cap: int
    queries: int  # queries with more candidates than the cap
    enterprises: int  # the bootstrap's unit
    level: float
    estimates: dict[str, dict[str, Estimate]] = field(default_factory=dict)  # scorer → metric → estimate
    # take-up captured by the first wave: `subject` minus each other scorer, paired over the same resamples
    differences: dict[str, Estimate] = field(default_factory=dict)
    subject: str = "ranker"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cap": self.cap,
            "queries": self.queries,
            "enterprises": self.enterprises,
            "level": self.level,
            "metrics": {s: {m: e.to_dict() for m, e in by.items()} for s, by in self.estimates.items()},
            "differences": {f"{self.subject} - {other}": e.to_dict() for other, e in self.differences.items()},
        }

    def beats(self, other: str) -> bool:
        """Whether ``subject``'s take-up captured by the first wave is above ``other``'s beyond chance (the
        paired difference's interval lies above zero)."""
        return other in self.differences and self.differences[other].low > 0


def _per_query(long: pl.DataFrame, cap: int) -> pl.DataFrame:
    """scorer, as_of, uscc and each query's sums, from rows scorer, as_of, uscc, grade, weight, score."""
    keys = ["scorer", *GROUP]
    gain = (pl.col("grade") >= ACTED_GRADE).cast(pl.Float64) * pl.col("weight")
    discount = 1.0 / (pl.col("rank") + 1).cast(pl.Float64).log(2)
    acted = (pl.col("grade") >= ACTED_GRADE).cast(pl.Float64)
    ranked = long.sort([*keys, "score", "policy_id"], descending=[False, False, False, True, False]).with_columns(
        rank=pl.int_range(1, pl.len() + 1).over(keys)
    )
    ideal = (
        long.with_columns(gain=gain)
        .sort([*keys, "gain"], descending=[False, False, False, True])
        .with_columns(rank=pl.int_range(1, pl.len() + 1).over(keys))
        .group_by(keys)
        .agg(idcg=pl.when(pl.col("rank") <= cap).then(pl.col("gain") * discount).otherwise(0.0).sum())
    )
    return (
        ranked.group_by(keys)
        .agg(
            acted=(acted * pl.col("weight")).sum(),
            captured=(acted * pl.col("weight") * (pl.col("rank") <= cap)).sum(),
            dcg=pl.when(pl.col("rank") <= cap).then(gain * discount).otherwise(0.0).sum(),
            first_acted=pl.col("rank").filter(pl.col("grade") >= ACTED_GRADE).min(),
        )
        .join(ideal, on=keys)
    )


def decision_metrics(
    frame: pl.DataFrame,
    scores: dict[str, np.ndarray | pl.Series],
    *,
    cap: int,
    weight: np.ndarray | pl.Series | None = None,
    subject: str = "ranker",
    draws: int = DRAWS,
    level: float = LEVEL,
    seed: int = 0,
    label: str = "label",
) -> DecisionMetrics:
    """The decision metrics of each scorer of ``scores`` (aligned with the rows of ``frame``: as_of, uscc,
    policy_id and ``label``) on the queries with more than ``cap`` candidates, with intervals; ``weight``: each row's
    inverse examination propensity (1 when omitted)."""
    if cap < 1:
        raise ValueError(f"push cap: expected at least 1 notice per wave, found {cap}")
    base = frame.select(*GROUP, "policy_id", pl.col(label).cast(pl.Float64).alias("grade")).with_columns(
        weight=pl.Series(np.ones(frame.height) if weight is None else np.asarray(weight, dtype=np.float64)),
        row=pl.int_range(pl.len()),
    )
    base = base.filter(pl.len().over(GROUP) > cap)
    rows = base["row"].to_numpy()
    names = list(scores)
    long = pl.concat(
        [
            base.with_columns(
                scorer=pl.lit(name),
                score=pl.Series(np.asarray(scores[name], dtype=np.float64)[rows]).fill_nan(None).fill_null(-np.inf),
            )
            for name in names
        ]
    )
    queries = base.select(pl.struct(*GROUP).n_unique()).item() if base.height else 0
    per_enterprise = (
        _per_query(long, cap)
        .group_by("scorer", "uscc")
        .agg(
            captured=pl.col("captured").sum(),
            acted=pl.col("acted").sum(),
            ndcg=pl.when(pl.col("idcg") > 0).then(pl.col("dcg") / pl.col("idcg")).otherwise(0.0).sum(),
            ndcg_queries=(pl.col("idcg") > 0).sum().cast(pl.Float64),
            rr=(1.0 / pl.col("first_acted")).fill_null(0.0).sum(),
            rr_queries=pl.col("first_acted").is_not_null().sum().cast(pl.Float64),
        )
        .sort("uscc")
    )
    enterprises = base["uscc"].n_unique()
    num, den = [], []
    for name in names:
        one = per_enterprise.filter(pl.col("scorer") == name)
        for n_col, d_col in (("captured", "acted"), ("ndcg", "ndcg_queries"), ("rr", "rr_queries")):
            num.append(one[n_col].to_numpy())
            den.append(one[d_col].to_numpy())
    take_up = {name: i * len(DECISION_METRICS) for i, name in enumerate(names)}
    others = [name for name in names if name != subject]
    pairs = [(take_up[subject], take_up[other]) for other in others] if subject in take_up else []
    shape = (enterprises, 0)
    estimates, differences = bootstrap_ratios(
        np.column_stack(num) if num and enterprises else np.zeros(shape),
        np.column_stack(den) if den and enterprises else np.zeros(shape),
        differences=pairs,
        draws=draws,
        level=level,
        seed=seed,
    )
    if not enterprises:  # no query has more candidates than the cap: nothing decided, nothing measured
        nan = Estimate(float("nan"), float("nan"), float("nan"))
        estimates, differences = [nan] * (len(names) * len(DECISION_METRICS)), [nan] * len(pairs)
    by_scorer = {
        name: {m: estimates[i * len(DECISION_METRICS) + j] for j, m in enumerate(DECISION_METRICS)}
        for i, name in enumerate(names)
    }
    return DecisionMetrics(
        cap=cap,
        queries=queries,
        enterprises=enterprises,
        level=level,
        estimates=by_scorer,
        differences=dict(zip(others, differences, strict=True)) if pairs else {},
        subject=subject,
    )
