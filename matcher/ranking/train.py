"""Train on stored feedback, compare with the baselines and the champion, register, promote on evidence.

1. Feedback → labelled pairs (``labels.load_feedback``); groups are one
   enterprise on one as-of date.
2. Time-based split: the latest as-of dates are held out — as many as needed
   for at least ``holdout_share`` of the groups, always at least one date and
   never all of them. The model never sees the held-out dates.
3. LightGBM LambdaRank on the earlier dates, corrected for the position each
   notice was pushed at (``model``, ``propensity``). Past ``max_queries``
   training queries it learns from a sample of whole queries, stratified by
   policy and region (``sampling``); the held-out dates are never sampled.
4. On the held-out dates, for the model, every baseline (the fallback order,
   amount-sorted, rule-margin-sorted, random) and the current champion, on
   the same pairs: NDCG@5, NDCG@10 and MAP (``evaluate``), and the decision
   metrics with bootstrap intervals over enterprises (``first_wave``): take-up
   captured by the first wave, NDCG@cap and MRR on the queries with more
   candidates than the push cap.
5. The run is logged to MLflow with its model card and the training data's
   feature distribution (for drift), and the model registered. The
   ``champion`` alias moves to it only when its take-up captured by the first
   wave beats the incumbent's — the champion's, or the fallback order's when
   there is none — beyond chance: the paired bootstrap interval of the
   difference lies above zero.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import polars as pl

from matcher.ranking.bootstrap import DRAWS
from matcher.ranking.drift import drift, reference
from matcher.ranking.errors import ModelStoreError, NoFeedbackError
from matcher.ranking.evaluate import BASELINES, baseline_scores, ranking_metrics, usable_groups
from matcher.ranking.features import FEATURE_SET
from matcher.ranking.first_wave import DECISION_METRICS, decision_metrics
from matcher.ranking.labels import load_feedback
from matcher.ranking.model import PARAMS, ROUNDS, fit_ranker, matrix
from matcher.ranking.model_card import model_card
from matcher.ranking.propensity import examination, weights
from matcher.ranking.registry import ModelStore
from matcher.ranking.sampling import MAX_QUERIES, sample_queries

__all__ = ["TrainingReport", "split_by_time", "train"]

GATE = "take_up_first_wave"

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
    metrics: dict[str, dict[str, float]]  # scorer → NDCG@5, NDCG@10, MAP, on the held-out dates
    # cap, queries, enterprises, level, metrics (scorer → metric → value, low, high), differences
    decision_metrics: dict[str, Any] = field(default_factory=dict)
    train_dates: list[date] = field(default_factory=list)
    holdout_dates: list[date] = field(default_factory=list)
    train_pairs: int = 0
    holdout_pairs: int = 0
    holdout_groups: int = 0
    seconds: float = 0.0
    # the training queries the model learned from, of those available (fewer when sampled past ``max_queries``)
    sampled: bool = False
    train_queries: int = 0
    train_queries_available: int = 0

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


def _verdict(found, incumbent: str, label: str) -> tuple[bool, str]:
    """Promoted or not, and why, from the decision metrics' paired difference with the incumbent."""
    new, old = found.estimates["ranker"][GATE], found.estimates[incumbent][GATE]
    diff = found.differences[incumbent]
    figures = (
        f"take-up captured by the first wave {new.value:.3f} against the {label}'s {old.value:.3f}: difference "
        f"{diff.value:+.3f}, {found.level:.0%} interval {diff.low:+.3f} to {diff.high:+.3f} over "
        f"{found.enterprises:,} enterprises"
    )
    if found.beats(incumbent):
        return True, f"{figures}, above zero: promoted"
    stays = "the champion stays" if incumbent == "champion" else "runs keep the fallback order"
    return False, f"{figures}, not above zero: {stays}"


def train(
    engine,
    store: ModelStore,
    *,
    holdout_share: float = 0.2,
    shuffle_labels: bool = False,
    rounds: int = ROUNDS,
    seed: int = 0,
    cap: int = 3,
    draws: int = DRAWS,
    position_bias: bool = True,
    max_queries: int | None = MAX_QUERIES,
) -> TrainingReport:
    """``cap``: the push cap the decision metrics judge the first wave by (``HUIQI_PUSH_CAP``). ``max_queries``:
    past this many training queries, train on a stratified sample of that many (``seed`` draws it); None trains
    on all."""
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
    available, holdout = split_by_time(usable, holdout_share)
    sample = sample_queries(available, max_queries, seed=seed)
    train_rows = sample.rows
    fitting = time.perf_counter()
    booster = fit_ranker(
        train_rows, rounds=rounds, seed=seed, shuffle_labels=shuffle_labels, position_bias=position_bias
    )
    fit_seconds = time.perf_counter() - fitting

    scores = {"ranker": booster.predict(matrix(holdout)), **baseline_scores(holdout, seed=seed)}
    champion_before, note = None, ""
    try:
        champion = store.champion()
    except ModelStoreError as exc:  # a champion that cannot score today's features cannot serve either
        champion, note = None, f"the champion cannot be used ({exc}); "
    if champion is not None:
        champion_before = champion.version
        scores["champion"] = champion.score(matrix(holdout))
    metrics = {name: ranking_metrics(holdout, score) for name, score in scores.items()}

    propensities = examination(available)  # every training pair: a sample would only make them noisier
    found = decision_metrics(holdout, scores, cap=cap, weight=weights(holdout, propensities), draws=draws, seed=seed)
    incumbent = "champion" if champion is not None else "fallback"
    promoted, reason = _verdict(found, incumbent, f"champion {champion_before}" if champion else "fallback order")
    reason = note + reason
    kept = reference(train_rows)
    moved = drift(kept, holdout)

    logged = {f"{k}": v for k, v in metrics["ranker"].items()}
    for name in (*BASELINES, "champion"):
        logged |= {f"{name}_{k}": v for k, v in metrics.get(name, {}).items()}
    for name, by_metric in found.estimates.items():
        prefix = "" if name == "ranker" else f"{name}_"
        for metric, estimate in by_metric.items():
            logged |= {f"{prefix}{metric}": estimate.value, f"{prefix}{metric}_low": estimate.low}
            logged |= {f"{prefix}{metric}_high": estimate.high}
    # What training took and saw, for whoever reads the registry later (the HTTP service shows them).
    logged |= {"train_seconds": fit_seconds, "train_pairs": train_rows.height, "holdout_pairs": holdout.height}
    logged |= {"decision_queries": found.queries, "decision_enterprises": found.enterprises}
    logged = {k: v for k, v in logged.items() if v == v}  # MLflow refuses NaN: a metric with no query is left out
    holdout_dates = sorted(holdout["as_of"].unique().to_list())
    train_dates = sorted(train_rows["as_of"].unique().to_list())
    card = model_card(
        train_dates=train_dates,
        holdout_dates=holdout_dates,
        train_rows=train_rows,
        holdout=holdout,
        metrics=metrics,
        decisions=found,
        propensities=propensities,
        drift=moved,
        promoted=promoted,
        reason=reason,
        champion_before=champion_before,
        params={
            "rounds": rounds,
            "seed": seed,
            "position_bias": position_bias,
            "shuffled_labels": shuffle_labels,
            **sample.params(),
        },
    )
    run_id, version = store.log(
        booster,
        params={
            **PARAMS,
            "rounds": rounds,
            "seed": seed,
            "holdout_share": holdout_share,
            "feature_set": FEATURE_SET,
            "holdout_dates": ",".join(map(str, holdout_dates)),
            "push_cap": cap,
            "position_bias": position_bias,
            "decision_metrics": ",".join(DECISION_METRICS),
            **sample.params(),
        },
        metrics=logged,
        sample=holdout.head(200),
        tags={
            "shuffled_labels": str(shuffle_labels).lower(),
            "sampled": str(sample.sampled).lower(),
            "promoted": str(promoted).lower(),
            "champion_before": champion_before or "",
            "reason": reason[:5000],
        },
        card=card,
        reference=kept,
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
        decision_metrics=found.to_dict(),
        train_dates=train_dates,
        holdout_dates=holdout_dates,
        train_pairs=train_rows.height,
        holdout_pairs=holdout.height,
        holdout_groups=holdout.select(pl.struct("as_of", "uscc").n_unique()).item(),
        seconds=round(time.perf_counter() - started, 2),
        sampled=sample.sampled,
        train_queries=sample.queries_used,
        train_queries_available=sample.queries_available,
    )
