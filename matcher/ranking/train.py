"""Train on stored feedback, compare with the baselines and the champion, register, promote on improvement.

1. Feedback → labelled pairs (``labels.load_feedback``); groups are one
   enterprise on one as-of date.
2. Time-based split: the latest as-of dates are held out — as many as needed
   for at least ``holdout_share`` of the groups, always at least one date and
   never all of them. The model never sees the held-out dates.
3. LightGBM LambdaRank on the earlier dates; NDCG@5, NDCG@10 and MAP on the
   held-out dates for the model and the baselines (amount-sorted,
   rule-margin-sorted, random).
4. The current champion (if any) is scored on the *same* held-out pairs.
5. The run is logged to MLflow and the model registered; the ``champion``
   alias moves to it only if its held-out NDCG@5 is higher than the
   champion's by more than ``MIN_GAIN`` (0.0001).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import polars as pl

from matcher.ranking.errors import ModelStoreError, NoFeedbackError
from matcher.ranking.evaluate import BASELINES, baseline_scores, ranking_metrics, usable_groups
from matcher.ranking.features import FEATURE_SET
from matcher.ranking.labels import load_feedback
from matcher.ranking.model import PARAMS, ROUNDS, fit_ranker, matrix
from matcher.ranking.registry import ModelStore

__all__ = ["TrainingReport", "split_by_time", "train"]

# A new model must beat the champion's held-out NDCG@5 by more than this: a model saved to MLflow and loaded
# back can differ in the last bits of its leaf values, which may reorder exact ties — that is no improvement.
MIN_GAIN = 1e-4

HOW_TO_GET_FEEDBACK = (
    "run `huiqi simulate --registry DIR --from DATE --to DATE` to record simulated responses over several "
    "as-of dates (or wait for enterprises to answer their notices), then `huiqi train` again"
)


@dataclass
class TrainingReport:
    version: str
    run_id: str
    promoted: bool
    reason: str
    champion_before: str | None
    metrics: dict[str, dict[str, float]]  # scorer → metric → value, on the held-out dates
    train_dates: list[date] = field(default_factory=list)
    holdout_dates: list[date] = field(default_factory=list)
    train_pairs: int = 0
    holdout_pairs: int = 0
    holdout_groups: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_by_time(frame: pl.DataFrame, holdout_share: float = 0.2) -> tuple[pl.DataFrame, pl.DataFrame]:
    dates = sorted(frame["as_of"].unique().to_list())
    if len(dates) < 2:
        found = ", ".join(map(str, dates)) or "none"
        raise NoFeedbackError(
            f"feedback covers {len(dates)} as-of date ({found}); training holds out the latest date, so it needs "
            f"at least two: {HOW_TO_GET_FEEDBACK} over a longer period (e.g. --from 2024-06-30 --to 2025-06-30)"
        )
    groups = frame.group_by("as_of").agg(pl.col("uscc").n_unique().alias("groups")).sort("as_of", descending=True)
    total, held, cut = groups["groups"].sum(), 0, dates[-1]
    for day, n in groups.iter_rows():
        held += n
        cut = day
        if held >= holdout_share * total:
            break
    cut = max(cut, dates[1])  # keep at least the first date for training
    return frame.filter(pl.col("as_of") < cut), frame.filter(pl.col("as_of") >= cut)


def train(
    engine,
    store: ModelStore,
    *,
    holdout_share: float = 0.2,
    shuffle_labels: bool = False,
    rounds: int = ROUNDS,
    seed: int = 0,
) -> TrainingReport:
    started = time.perf_counter()
    feedback = load_feedback(engine)
    if feedback.height == 0:
        raise NoFeedbackError(f"no feedback to train on: no ranked notice has a response yet; {HOW_TO_GET_FEEDBACK}")
    usable = usable_groups(feedback)
    if usable.height == 0:
        raise NoFeedbackError(
            f"the feedback has {feedback.height} answered notices but no enterprise opened or acted on one of "
            f"two or more notices, so there is nothing to rank; {HOW_TO_GET_FEEDBACK}"
        )
    train_rows, holdout = split_by_time(usable, holdout_share)
    fitting = time.perf_counter()
    booster = fit_ranker(train_rows, rounds=rounds, seed=seed, shuffle_labels=shuffle_labels)
    fit_seconds = time.perf_counter() - fitting

    metrics = {"ranker": ranking_metrics(holdout, booster.predict(matrix(holdout)))}
    for name, score in baseline_scores(holdout, seed=seed).items():
        metrics[name] = ranking_metrics(holdout, score)

    champion_before, reason = None, ""
    try:
        champion = store.champion()
    except ModelStoreError as exc:  # a champion that cannot score today's features cannot serve either
        champion, reason = None, f"the champion cannot be used ({exc})"
    if champion is not None:
        champion_before = champion.version
        metrics["champion"] = ranking_metrics(holdout, champion.score(matrix(holdout)))

    new, old = metrics["ranker"]["ndcg_5"], metrics.get("champion", {}).get("ndcg_5")
    promoted = old is None or new > old + MIN_GAIN
    if old is None:
        reason = reason or "no champion yet"
    elif promoted:
        reason = f"held-out NDCG@5 {new:.4f} beats the champion's {old:.4f}"
    else:
        reason = (
            f"held-out NDCG@5 {new:.4f} does not beat the champion's {old:.4f} by more than {MIN_GAIN}: "
            "the champion stays"
        )

    logged = {f"{k}": v for k, v in metrics["ranker"].items()}
    for name in (*BASELINES, "champion"):
        logged |= {f"{name}_{k}": v for k, v in metrics.get(name, {}).items()}
    # What training took and saw, for whoever reads the registry later (the HTTP service shows them).
    logged |= {"train_seconds": fit_seconds, "train_pairs": train_rows.height, "holdout_pairs": holdout.height}
    holdout_dates = sorted(holdout["as_of"].unique().to_list())
    run_id, version = store.log(
        booster,
        params={
            **PARAMS,
            "rounds": rounds,
            "seed": seed,
            "holdout_share": holdout_share,
            "feature_set": FEATURE_SET,
            "holdout_dates": ",".join(map(str, holdout_dates)),
        },
        metrics=logged,
        sample=holdout.head(200),
        tags={
            "shuffled_labels": str(shuffle_labels).lower(),
            "promoted": str(promoted).lower(),
            "champion_before": champion_before or "",
            "reason": reason[:5000],
        },
    )
    if promoted:
        store.promote(version)
    return TrainingReport(
        version=version,
        run_id=run_id,
        promoted=promoted,
        reason=reason,
        champion_before=champion_before,
        metrics=metrics,
        train_dates=sorted(train_rows["as_of"].unique().to_list()),
        holdout_dates=holdout_dates,
        train_pairs=train_rows.height,
        holdout_pairs=holdout.height,
        holdout_groups=holdout.select(pl.struct("as_of", "uscc").n_unique()).item(),
        seconds=round(time.perf_counter() - started, 2),
    )
