"""Position bias: how likely a notice is to be looked at, by where it was pushed.

Feedback is collected under the ranking in service: a notice pushed first is
opened more *because* it was first. Two corrections use the position a
notice was pushed at (``position_id``: the position, 1–10 with later ones
pooled, and the wave):

- **training**: LightGBM's position-aware LambdaMART learns a bias per
  position id beside the trees (``position`` in the dataset,
  ``matcher.ranking.model``), so the trees learn what enterprises prefer, not
  the order they were shown;
- **evaluation**: each labelled notice counts 1 ÷ its examination propensity
  (``examination``): the share of notices opened at its position id, relative
  to the first position. Whether a pushed notice is opened at all depends on
  where it stands, not on what it offers (an enterprise opens it to find out),
  so opens measure examination; acting on it then depends on what it offers.
"""

from __future__ import annotations

import polars as pl

__all__ = ["FLOOR", "MAX_POSITION", "examination", "position_id", "weights"]

MAX_POSITION = 10  # later positions share one id: few notices stand there
FLOOR = 0.05  # a propensity below this is taken as this: weights stay at most 20


def position_id() -> pl.Expr:
    """One integer per (position, wave): position 1–10 (later ones as 10) × 10 + wave (0–9)."""
    return (
        pl.min_horizontal(pl.col("position"), pl.lit(MAX_POSITION)) * 10 + pl.min_horizontal(pl.col("wave"), pl.lit(9))
    ).cast(pl.Int32)


def examination(feedback: pl.DataFrame, label: str = "label") -> pl.DataFrame:
    """position_id, notices, opened, propensity: the share opened at each position id ÷ the share opened at the
    first position of the first wave (clipped to [FLOOR, 1]). A notice counts as opened when its label is ≥ 1
    (opened, declined, objected or acted on; only ``ignored`` is 0)."""
    rates = (
        feedback.with_columns(position_id=position_id())
        .group_by("position_id")
        .agg(notices=pl.len(), opened=(pl.col(label) >= 1).mean())
        .sort("position_id")
    )
    first = rates.filter(pl.col("position_id") == 10)["opened"]
    top = first.item() if first.len() and first.item() > 0 else rates["opened"].max()
    return rates.with_columns(propensity=(pl.col("opened") / (top or 1.0)).clip(FLOOR, 1.0).fill_null(1.0))


def weights(frame: pl.DataFrame, propensities: pl.DataFrame) -> pl.Series:
    """1 ÷ propensity for each row of ``frame`` (its position and wave), in the order of ``frame``; 1 for a
    position id the propensities never saw."""
    return (
        frame.select(position_id=position_id())
        .join(propensities.select("position_id", "propensity"), on="position_id", how="left", maintain_order="left")
        .select((1.0 / pl.col("propensity").fill_null(1.0)).alias("weight"))
        .to_series()
    )
