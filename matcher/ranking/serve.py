"""Serving: order each enterprise's notices, push the first few at once and the rest in later waves.

The ranker only orders and times; it never changes a decision or an amount.

- **Order.** With a champion model, by its score (highest first). Without
  one, the fallback order: granted, awaiting confirmation, recommended, needs
  data, near miss; within a status the larger amount first (unknown last),
  then the policy id.
- **Holdout.** With a model, a small random share of the run's enterprises
  (``holdout``) gets the fallback order instead (``matcher.ranking.holdout``):
  the uplift of ranked over held-out enterprises is measured on their real
  responses. Their pairs are still scored (``rank_features.score``) but the
  decision's ``rank`` stays null: the model did not order them.
- **Push cap.** At most ``cap`` new notices per enterprise are pushed with the
  run (wave 0); the next ``cap`` become due ``wave_days`` later (wave 1), and
  so on: the notice's ``next_attempt_at`` is the run's time plus
  ``wave × wave_days``, so the outbox (``huiqi deliver``) sends each wave when due.
  Notices that already went out in an earlier run are not sent again and do not count.

Each decision's features, score, position and wave are stored in
``rank_features``: what the model saw when it served is what it is trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np
import polars as pl
from sqlalchemy import Engine, select

from matcher.db.bulk import insert_missing
from matcher.db.models import notices, rank_features
from matcher.ranking.features import CODES, FEATURE_SET, FEATURES, candidate_features, encode_features, history
from matcher.ranking.holdout import holdout_members
from policies.compiled import CompiledPolicy

__all__ = ["FALLBACK_ORDER", "PushPlan", "Ranked", "Scorer", "fallback_key", "rank_decisions"]

FALLBACK_ORDER = CODES["status"]  # granted first … near miss last


class Scorer(Protocol):
    """A model that scores candidate pairs: higher is pushed first."""

    version: str  # e.g. "huiqi-ranker/3", recorded on the run

    def score(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PushPlan:
    scorer: Scorer | None = None  # the champion; None → the fallback order
    cap: int = 3  # new notices pushed at once per enterprise
    wave_days: int = 7  # the next `cap` notices follow this many days later
    holdout: float = 0.0  # share of enterprises ordered by the fallback order although a model serves

    def __post_init__(self) -> None:
        if not 0.0 <= self.holdout < 1.0:
            raise ValueError(f"ranking holdout: expected a share from 0 to below 1, found {self.holdout}")
        if self.cap < 1:
            raise ValueError(f"push cap: expected at least 1 notice per wave, found {self.cap}")
        if self.wave_days < 0:
            raise ValueError(f"wave_days: expected 0 or more days between waves, found {self.wave_days}")


@dataclass
class Ranked:
    decisions: pl.DataFrame  # the decisions, with `rank` (the model's score; null under the fallback order)
    waves: pl.DataFrame | None = None  # uscc, policy_id, wave
    wave_days: int = 0
    model_version: str | None = None

    def schedule(self, notice_rows: pl.DataFrame) -> pl.DataFrame:
        """Notices with ``next_attempt_at`` moved to their wave's time."""
        if self.waves is None or notice_rows.height == 0:
            return notice_rows
        return (
            notice_rows.join(self.waves, on=["uscc", "policy_id"], how="left")
            .with_columns(
                next_attempt_at=pl.col("next_attempt_at")
                + pl.duration(days=pl.col("wave").fill_null(0) * self.wave_days)
            )
            .drop("wave")
        )


def fallback_key() -> list[pl.Expr]:
    """Sort keys of the fallback order (ascending) over ``decision`` (the status) and ``amount_full_fen``."""
    return [
        pl.col("decision").replace_strict({s: i for i, s in enumerate(FALLBACK_ORDER)}, return_dtype=pl.Int32),
        -pl.col("amount_full_fen").fill_null(-1),
        pl.col("policy_id"),
    ]


def _already_notified(engine: Engine, run_id: str, decisions: pl.DataFrame) -> pl.DataFrame:
    keys = sorted(decisions["period_key"].unique().to_list())
    query = select(notices.c.uscc, notices.c.policy_id, notices.c.period_key, notices.c.kind).where(
        notices.c.run_id != run_id, notices.c.period_key.in_(keys)
    )
    schema = {"uscc": pl.String, "policy_id": pl.String, "period_key": pl.String, "decision": pl.String}
    with engine.connect() as connection:
        return pl.DataFrame(connection.execute(query).all(), schema=schema, orient="row")


def rank_decisions(
    engine: Engine,
    run_id: str,
    decisions: pl.DataFrame,
    profiles: pl.DataFrame,
    policies: Sequence[CompiledPolicy],
    as_of: date,
    plan: PushPlan | None,
    *,
    chunk_rows: int = 20_000,
) -> Ranked:
    """Score, order and time the run's decisions; store their features. ``plan=None``: no ranking at all."""
    if plan is None or decisions.height == 0:
        return Ranked(decisions.with_columns(rank=pl.lit(None, pl.Float64)))
    feats = candidate_features(decisions, profiles, policies, as_of, history(engine, as_of, run_id, policies))
    decided = decisions.select("uscc", "policy_id", "period_key", "amount_full_fen", decision=pl.col("status"))
    rows = decided.join(feats, on=["uscc", "policy_id"], how="left")
    if plan.scorer is not None:
        scores = plan.scorer.score(rows.select(FEATURES).to_numpy().astype(np.float64))
        within = pl.int_range(pl.len()).over("uscc")
        rows = (
            rows.with_columns(score=pl.Series(np.asarray(scores, dtype=np.float64)))
            .join(holdout_members(rows["uscc"], run_id, plan.holdout), on="uscc", how="left")
            .sort(["uscc", -pl.col("score"), pl.col("policy_id")])
            .with_columns(by_model=within)
            .sort(["uscc", *fallback_key()])
            .with_columns(by_fallback=within)
        )
        # One sort key for both arms: the model's rank for ranked enterprises, the fallback rank for held-out ones.
        order = [pl.when(pl.col("holdout")).then(pl.col("by_fallback")).otherwise(pl.col("by_model"))]
    else:
        rows = rows.with_columns(score=pl.lit(None, pl.Float64), holdout=pl.lit(False))
        order = fallback_key()
    repeats = _already_notified(engine, run_id, decisions).with_columns(repeat=pl.lit(True))
    rows = (
        rows.join(repeats, on=["uscc", "policy_id", "period_key", "decision"], how="left")
        .with_columns(repeat=pl.col("repeat").fill_null(False))
        .sort(["uscc", "repeat", *order])
        .with_columns(position=(pl.int_range(pl.len()).over("uscc") + 1).cast(pl.Int32))
        .with_columns(wave=pl.when(pl.col("repeat")).then(0).otherwise((pl.col("position") - 1) // plan.cap))
    )
    insert_missing(
        engine,
        rank_features,
        rows.select(
            pl.lit(run_id).alias("run_id"),
            "uscc",
            "policy_id",
            pl.lit(FEATURE_SET).alias("feature_set"),
            encode_features(),
            "score",
            "position",
            "wave",
            "holdout",
        ),
        chunk_rows=chunk_rows,
    )
    rank = pl.when(~pl.col("holdout")).then(pl.col("score")).alias("rank")
    ranked = decisions.join(rows.select("uscc", "policy_id", rank), on=["uscc", "policy_id"], how="left")
    return Ranked(
        ranked,
        rows.select("uscc", "policy_id", "wave"),
        plan.wave_days,
        plan.scorer.version if plan.scorer is not None else None,
    )
