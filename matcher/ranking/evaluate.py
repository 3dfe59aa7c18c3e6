"""Ranking metrics over groups (one enterprise on one as-of date), and the baselines the model must beat.

- NDCG@k: gain 2^grade − 1, discount 1 / log2(position + 1), divided by the
  ideal order's DCG. Ties in a score are broken pessimistically (lower grade
  first), so a constant score earns no credit.
- MAP: a pair is relevant when its grade is ≥ 1 (opened or acted on); average
  precision over every relevant pair of the group, averaged over groups.

Only groups with at least two pairs and at least one relevant pair are scored
(``usable_groups``): elsewhere every order is as good as any other.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["BASELINES", "GROUP", "baseline_scores", "ranking_metrics", "usable_groups"]

GROUP = ("as_of", "uscc")
BASELINES = ("fallback", "amount", "rule_margin", "random")


def usable_groups(frame: pl.DataFrame, label: str = "label") -> pl.DataFrame:
    return frame.filter((pl.len().over(GROUP) >= 2) & (pl.col(label).max().over(GROUP) > 0))


def baseline_scores(frame: pl.DataFrame, seed: int = 0) -> dict[str, pl.Series]:
    """Scores of the baselines: the fallback order runs use without a champion (by status, then the larger
    amount; ``matcher.ranking.serve``), amount-sorted, rule-margin-sorted (most conditions met, smallest gap),
    random."""
    rng = np.random.default_rng(seed)
    return {
        "fallback": frame.select(-100.0 * pl.col("status").fill_null(9.0) + pl.col("log_amount").fill_null(-1.0))
        .to_series()
        .alias("fallback"),
        "amount": frame.select(pl.col("log_amount").fill_null(-1.0)).to_series(),
        "rule_margin": frame.select(
            pl.col("conditions_met_share").fill_null(0.0) - pl.col("threshold_gap").fill_null(0.0)
        ).to_series(),
        "random": pl.Series(rng.random(frame.height)),
    }


def ranking_metrics(frame: pl.DataFrame, score: pl.Series | np.ndarray, label: str = "label") -> dict[str, float]:
    """NDCG@5, NDCG@10 and MAP of ``score`` over the groups of ``frame`` (use ``usable_groups`` first)."""
    if frame.height == 0:
        return {"ndcg_5": float("nan"), "ndcg_10": float("nan"), "map": float("nan")}
    rows = frame.select(*GROUP, pl.col(label).cast(pl.Float64).alias("grade")).with_columns(
        score=pl.Series(np.asarray(score, dtype=np.float64)).fill_nan(None).fill_null(-np.inf)
    )
    gain = 2.0 ** pl.col("grade") - 1
    discount = 1.0 / (pl.col("position") + 1).cast(pl.Float64).log(2)
    by_model = rows.sort([*GROUP, "score", "grade"], descending=[False, False, True, False]).with_columns(
        position=pl.int_range(1, pl.len() + 1).over(GROUP)
    )
    ideal = rows.sort([*GROUP, "grade"], descending=[False, False, True]).with_columns(
        position=pl.int_range(1, pl.len() + 1).over(GROUP)
    )
    relevant = (pl.col("grade") >= 1).cast(pl.Float64)

    def dcg(frame: pl.DataFrame, k: int, name: str) -> pl.DataFrame:
        return frame.group_by(GROUP).agg(
            pl.when(pl.col("position") <= k).then(gain * discount).otherwise(0.0).sum().alias(name)
        )

    precision = relevant * relevant.cum_sum().over(GROUP) / pl.col("position")
    per_group = (
        dcg(by_model, 5, "dcg5")
        .join(dcg(by_model, 10, "dcg10"), on=GROUP)
        .join(dcg(ideal, 5, "idcg5"), on=GROUP)
        .join(dcg(ideal, 10, "idcg10"), on=GROUP)
        .join(
            by_model.group_by(GROUP).agg(ap=precision.sum() / relevant.sum().clip(lower_bound=1)),
            on=GROUP,
        )
        .join(rows.group_by(GROUP).agg(relevant=(pl.col("grade") >= 1).any()), on=GROUP)
    )
    scored = per_group.filter(pl.col("idcg5") > 0)
    return {
        "ndcg_5": float((scored["dcg5"] / scored["idcg5"]).mean()),
        "ndcg_10": float((scored["dcg10"] / scored["idcg10"]).mean()),
        "map": float(per_group.filter(pl.col("relevant"))["ap"].mean()),
    }
