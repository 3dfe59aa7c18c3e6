"""LightGBM LambdaRank over candidate pairs, grouped by enterprise and as-of date, corrected for position bias.

The feedback was collected under an earlier order: a notice pushed first is
opened more because it was first, and a LambdaRank trained on it naively
learns that order back. LightGBM's position-aware LambdaMART (``position``
in the dataset: the position id each notice was pushed at,
``matcher.ranking.propensity.position_id``) learns one bias per position id
beside the trees, so the trees learn what enterprises prefer. Scoring uses
the trees alone: a served score carries no position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from matcher.ranking.evaluate import GROUP
from matcher.ranking.features import CATEGORICAL, FEATURES
from matcher.ranking.propensity import position_id

if TYPE_CHECKING:  # LightGBM is imported when a model is trained or loaded, not by every command
    import lightgbm as lgb

__all__ = ["PARAMS", "ROUNDS", "TARGET", "BoosterScorer", "fit_ranker", "matrix"]

# Few small trees: scoring cost grows with trees × depth, and serving must score ≥ 500,000 pairs/s on 2 cores
# (bench/ranker.py). Two threads (the machine's size). Deterministic for a given seed.
PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [5, 10],
    "lambdarank_truncation_level": 10,
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "max_bin": 63,
    "num_threads": 2,
    "force_row_wise": True,
    "deterministic": True,
    "verbosity": -1,
}
# 30 rounds: on the service bench's simulated feedback (100,000 enterprises, 283,866 training pairs, 260,577 held
# out; seeds 0–2) they rank as well as 60 by every metric the gate and the card report (take-up captured by the
# first wave 0.870–0.872 either way, NDCG@5 0.901 against 0.898–0.901), and halve what each tree costs: scoring
# 0.8 µs a pair instead of 1.9, one pair's contributions (TreeSHAP, the service's ranking reasons) 82–90 µs
# instead of 146–199 (docs/ranking.md, "Training").
ROUNDS = 30
TARGET = "acted"  # what the model learns to put first: notices acted on (matcher.ranking.labels)
SMALL = 200_000  # pairs below which training and scoring use one thread


def matrix(frame: pl.DataFrame) -> np.ndarray:
    """The model's input: ``FEATURES`` in order, float64, missing as NaN."""
    return frame.select(pl.col(FEATURES).cast(pl.Float64).fill_null(np.nan)).to_numpy()


def fit_ranker(
    frame: pl.DataFrame,
    *,
    label: str = TARGET,
    rounds: int = ROUNDS,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    shuffle_labels: bool = False,
    position_bias: bool = True,
) -> lgb.Booster:
    """Train on ``frame`` (features and ``label``, by default whether the notice was acted on); rows of a group
    (as_of, uscc) are kept together.

    ``position_bias``: correct for the position each pair was pushed at (``frame`` needs ``position`` and
    ``wave``); False trains naively, as if every notice had been seen alike.

    ``shuffle_labels`` trains on labels shuffled across all pairs: a model that learned
    nothing, for sanity checks (it must never become champion).
    """
    import lightgbm as lgb

    rows = frame.sort(*GROUP)
    sizes = rows.group_by(GROUP, maintain_order=True).len()["len"].to_numpy()
    y = rows[label].to_numpy().astype(np.float64)
    if shuffle_labels:
        y = np.random.default_rng(seed).permutation(y)
    dataset = lgb.Dataset(
        matrix(rows),
        label=y,
        group=sizes,
        feature_name=list(FEATURES),
        categorical_feature=list(CATEGORICAL),
        position=rows.select(position_id()).to_series().to_numpy() if position_bias else None,
        free_raw_data=True,
    )
    # One thread for small sets: OpenMP threads spin-waiting on a busy 2-core machine cost more than they give.
    threads = {"num_threads": 1} if rows.height < SMALL else {}
    return lgb.train({**PARAMS, **threads, "seed": seed, **(params or {})}, dataset, num_boost_round=rounds)


@dataclass(frozen=True)
class BoosterScorer:
    """A trained booster as the serving side's ``Scorer``."""

    booster: lgb.Booster = field(repr=False)
    version: str
    threads: int = 2

    def score(self, features: np.ndarray) -> np.ndarray:
        return self.booster.predict(features, num_threads=1 if len(features) < SMALL else self.threads)
