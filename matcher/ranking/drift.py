"""Drift: the features of a run against the data the champion was trained on (population stability index).

At registration the training pairs' distribution is kept with the model
(``reference``: per feature, its bin edges and the share of pairs in each bin,
plus the share missing). A later run's pairs are binned on the same edges and
compared bin by bin:

    PSI = Σ (share_now − share_then) × ln(share_now ÷ share_then)

(shares floored at 0.0001). Rules of thumb: below 0.1 stable, 0.1–0.25 a
moderate shift, above ``THRESHOLD`` (0.25) a shift the model was not trained
for — retrain, or look at what changed in the registries. Numeric features
get up to ten quantile bins; a feature with at most 20 distinct values (the
coded categories, high-tech, counts) one bin per value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from matcher.ranking.features import FEATURES

__all__ = ["THRESHOLD", "champion_drift", "drift", "reference", "run_features"]

THRESHOLD = 0.25
BINS = 10
DISCRETE = 20  # at most this many distinct values: one bin per value
_FLOOR = 1e-4


def _bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin index of each value (0 … len(edges)), NaN in bin ``len(edges) + 1``."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    return np.where(np.isnan(values), len(edges) + 1, index)


def _shares(values: np.ndarray, edges: list[float]) -> np.ndarray:
    counts = np.bincount(_bins(values, edges), minlength=len(edges) + 2).astype(np.float64)
    return counts / max(len(values), 1)


def reference(frame: pl.DataFrame) -> dict[str, Any]:
    """The distribution of ``frame``'s features (the training pairs), to keep with the model."""
    x = frame.select(pl.col(FEATURES).cast(pl.Float64).fill_null(np.nan))
    features = {}
    for name in FEATURES:
        values = x[name].to_numpy()
        present = values[~np.isnan(values)]
        distinct = np.unique(present)
        if len(distinct) <= DISCRETE:
            edges = distinct[1:].tolist()  # bin i holds the i-th value
        else:
            edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1])).tolist()
        features[name] = {"edges": edges, "shares": _shares(values, edges).tolist()}
    return {"pairs": frame.height, "features": features}


def drift(profile: dict[str, Any], frame: pl.DataFrame, *, threshold: float = THRESHOLD) -> pl.DataFrame:
    """feature, psi, drifted (psi > threshold), missing_then, missing_now: ``frame``'s features against the
    reference ``profile``, largest PSI first."""
    x = frame.select(pl.col(FEATURES).cast(pl.Float64).fill_null(np.nan))
    rows = []
    for name, kept in profile["features"].items():
        if name not in x.columns:
            continue
        then = np.maximum(np.asarray(kept["shares"], dtype=np.float64), _FLOOR)
        now = np.maximum(_shares(x[name].to_numpy(), kept["edges"]), _FLOOR)
        psi = float(np.sum((now - then) * np.log(now / then))) if frame.height else float("nan")
        rows.append(
            (name, psi, kept["shares"][-1], float(np.isnan(x[name].to_numpy()).mean()) if frame.height else None)
        )
    return (
        pl.DataFrame(
            rows,
            schema={"feature": pl.String, "psi": pl.Float64, "missing_then": pl.Float64, "missing_now": pl.Float64},
            orient="row",
        )
        .with_columns(drifted=pl.col("psi") > threshold)
        .sort("psi", descending=True, nulls_last=True)
    )


def run_features(engine, run_id: str | None = None) -> tuple[str | None, Any, pl.DataFrame]:
    """(run id, as-of date, its pairs' stored features): run ``run_id``, or the latest run that ranked its
    notices with this code's feature set; (None, None, empty) when there is none."""
    from sqlalchemy import select

    from matcher.db.models import rank_feature_parts as parts
    from matcher.db.models import runs
    from matcher.ranking.features import FEATURE_SET
    from matcher.ranking.parts import read_pairs

    with engine.connect() as connection:
        if run_id is None:
            found = connection.execute(
                select(runs.c.id, runs.c.as_of)
                .where(
                    runs.c.status == "completed",
                    select(parts.c.run_id)
                    .where(parts.c.run_id == runs.c.id, parts.c.feature_set == FEATURE_SET)
                    .exists(),
                )
                .order_by(runs.c.finished_at.desc(), runs.c.as_of.desc())
                .limit(1)
            ).first()
        else:
            found = connection.execute(select(runs.c.id, runs.c.as_of).where(runs.c.id == run_id)).first()
    if found is None:
        return None, None, pl.DataFrame(schema=dict.fromkeys(FEATURES, pl.Float64))
    return found.id, found.as_of, read_pairs(engine, found.id, FEATURES).drop("run_id")


def champion_drift(engine, store, *, run_id: str | None = None, threshold: float = THRESHOLD) -> dict[str, Any] | None:
    """The features of run ``run_id`` (by default the latest ranked run) against the champion's training pairs:
    champion, run_id, as_of, pairs, threshold, features (feature, psi, drifted, missing shares; largest first),
    drifted (the names past the threshold). None when there is no champion; features empty when the champion
    kept no training distribution (registered before drift was watched) or no run ranked its notices yet."""
    version = store.champion_version()
    if version is None:
        return None
    kept = store.reference(version)
    found_run, as_of, frame = run_features(engine, run_id)
    moved = drift(kept, frame, threshold=threshold) if kept is not None and frame.height else None
    return {
        "champion": version,
        "run_id": found_run,
        "as_of": as_of,
        "pairs": frame.height,
        "threshold": threshold,
        "features": [] if moved is None else moved.to_dicts(),
        "drifted": [] if moved is None else moved.filter(pl.col("drifted"))["feature"].to_list(),
    }
