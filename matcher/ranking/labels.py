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

from matcher.db.models import notices, responses, runs
from matcher.ranking.features import ACTED, FEATURES, GRADES
from matcher.ranking.parts import read_pairs

__all__ = ["load_feedback"]

_PAIR = ["run_id", "uscc", "policy_id"]


def load_feedback(engine: Engine) -> pl.DataFrame:
    """One row per answered candidate: run_id, as_of, uscc, policy_id, position, wave, score, holdout, label (the
    grade), acted (0 or 1), notice_id, status_name, responses, features.

    The answered notices come from the database; their runs' stored pairs (this code's feature set) are read
    from their Parquet pieces and joined in memory, run by run."""
    with engine.connect() as connection:
        answered = pl.DataFrame(
            connection.execute(select(responses.c.notice_id, responses.c.kind)).all(),
            schema={"notice_id": pl.Int64, "kind": pl.String},
            orient="row",
        )
        shown = pl.DataFrame(
            connection.execute(
                select(
                    notices.c.id, notices.c.kind, notices.c.run_id, notices.c.uscc, notices.c.policy_id, runs.c.as_of
                )
                .join(runs, runs.c.id == notices.c.run_id)
                .where(notices.c.id.in_(select(responses.c.notice_id)))
            ).all(),
            schema={
                "notice_id": pl.Int64,
                "status_name": pl.String,
                "run_id": pl.String,
                "uscc": pl.String,
                "policy_id": pl.String,
                "as_of": pl.Date,
            },
            orient="row",
        )
    labels = answered.group_by("notice_id").agg(
        label=pl.col("kind").replace_strict(GRADES, default=0, return_dtype=pl.Int32).max(),
        acted=pl.col("kind").is_in(ACTED).any().cast(pl.Int32),
        responses=pl.len(),
    )
    tail = ["position", "wave", "score", "holdout"]
    frames = [
        read_pairs(engine, run_id, ["uscc", "policy_id", *tail, *FEATURES]).join(
            shown.filter(pl.col("run_id") == run_id), on=_PAIR, how="inner"
        )
        for run_id in shown["run_id"].unique().sort()
    ]
    if not frames:
        frames = [read_pairs(engine, [], ["uscc", "policy_id", *tail, *FEATURES]).join(shown, on=_PAIR)]
    return (
        pl.concat(frames)
        .join(labels, on="notice_id", how="inner")
        .select(
            "run_id",
            "as_of",
            "uscc",
            "policy_id",
            *tail,
            "notice_id",
            "status_name",
            "label",
            "acted",
            "responses",
            *FEATURES,
        )
        .sort("as_of", "uscc", "policy_id", maintain_order=True)
    )
