"""Feedback → graded relevance labels.

A candidate is labelled when the notice *its own run* created got at least one
response (a later run that reaches the same decision sends no new notice, so
its candidate was never shown). The label is the best grade among the
notice's responses (``GRADES``): confirmed or supplied data 3, opened 1,
ignored, declined or objected 0. Notices with no response yet are left out:
they may still be answered.

The model is trained on ``acted`` (1 when the enterprise confirmed or supplied
data, else 0), not on the grade: whether a pushed notice is opened depends on
where it stood, not on what it offers, so an open without action says the
notice was seen, not that it was wanted — and the position correction
(``matcher.ranking.model``) is there to take *seeing* out. The grade stays
for NDCG and MAP.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine, select

from matcher.db.keys import ranked_notice
from matcher.db.models import notices, rank_features, responses, runs
from matcher.ranking.features import ACTED, FEATURE_SET, GRADES, decode_features

__all__ = ["load_feedback"]


def load_feedback(engine: Engine) -> pl.DataFrame:
    """One row per answered candidate: run_id, as_of, uscc, policy_id, position, wave, score, holdout, label (the
    grade), acted (0 or 1), features."""
    query = (
        select(
            rank_features.c.run_id,
            runs.c.as_of,
            rank_features.c.uscc,
            rank_features.c.policy_id,
            rank_features.c.feature_set,
            rank_features.c.features,
            rank_features.c.position,
            rank_features.c.wave,
            rank_features.c.score,
            rank_features.c.holdout,
            notices.c.id.label("notice_id"),
            notices.c.kind.label("status_name"),
        )
        .join(runs, runs.c.id == rank_features.c.run_id)
        .join(notices, ranked_notice())
    )
    schema = {
        "run_id": pl.String,
        "as_of": pl.Date,
        "uscc": pl.String,
        "policy_id": pl.String,
        "feature_set": pl.String,
        "features": pl.String,
        "position": pl.Int32,
        "wave": pl.Int32,
        "score": pl.Float64,
        "holdout": pl.Boolean,
        "notice_id": pl.Int64,
        "status_name": pl.String,
    }
    with engine.connect() as connection:
        candidates = pl.DataFrame(connection.execute(query).all(), schema=schema, orient="row")
        answered = pl.DataFrame(
            connection.execute(select(responses.c.notice_id, responses.c.kind)).all(),
            schema={"notice_id": pl.Int64, "kind": pl.String},
            orient="row",
        )
    labels = answered.group_by("notice_id").agg(
        label=pl.col("kind").replace_strict(GRADES, default=0, return_dtype=pl.Int32).max(),
        acted=pl.col("kind").is_in(ACTED).any().cast(pl.Int32),
        responses=pl.len(),
    )
    return (
        candidates.filter(pl.col("feature_set") == FEATURE_SET)
        .join(labels, on="notice_id", how="inner")
        .with_columns(decode_features())
        .drop("features", "feature_set")
        .sort("as_of", "uscc", "policy_id")
    )
